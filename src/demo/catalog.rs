//! What Brightbasket sells and says: products, pages, screens, recipes, ticket subjects,
//! campaigns and device models. (People, e-mails, phones, companies and browser user
//! agents come from `fake` instead.)

/// A product of the shop.
#[derive(Debug)]
pub(crate) struct Product {
    pub sku: &'static str,
    pub name: &'static str,
    pub slug: &'static str,
    pub category: &'static str,
    pub price: f64,
}

const fn product(
    sku: &'static str,
    name: &'static str,
    slug: &'static str,
    category: &'static str,
    price: f64,
) -> Product {
    Product {
        sku,
        name,
        slug,
        category,
        price,
    }
}

/// The product catalog.
pub(crate) const PRODUCTS: &[Product] = &[
    product(
        "BB-1001",
        "Organic Bananas",
        "organic-bananas",
        "Produce",
        2.49,
    ),
    product(
        "BB-1002",
        "Hass Avocados, 4 pack",
        "hass-avocados",
        "Produce",
        5.99,
    ),
    product("BB-1003", "Baby Spinach", "baby-spinach", "Produce", 3.49),
    product(
        "BB-2001",
        "Sourdough Loaf",
        "sourdough-loaf",
        "Bakery",
        4.75,
    ),
    product(
        "BB-2002",
        "Butter Croissants, 6",
        "butter-croissants",
        "Bakery",
        6.5,
    ),
    product(
        "BB-3001",
        "Free-Range Eggs, 12",
        "free-range-eggs",
        "Dairy & Eggs",
        4.29,
    ),
    product(
        "BB-3002",
        "Greek Yogurt",
        "greek-yogurt",
        "Dairy & Eggs",
        5.49,
    ),
    product(
        "BB-3003",
        "Aged Cheddar",
        "aged-cheddar",
        "Dairy & Eggs",
        7.95,
    ),
    product(
        "BB-4001",
        "Cold Brew Coffee",
        "cold-brew-coffee",
        "Beverages",
        4.99,
    ),
    product(
        "BB-4002",
        "Sparkling Water, 12",
        "sparkling-water",
        "Beverages",
        6.99,
    ),
    product(
        "BB-5001",
        "Wild Salmon Fillet",
        "wild-salmon-fillet",
        "Meat & Seafood",
        12.99,
    ),
    product(
        "BB-5002",
        "Chicken Thighs",
        "chicken-thighs",
        "Meat & Seafood",
        8.49,
    ),
    product(
        "BB-6001",
        "Extra Virgin Olive Oil",
        "olive-oil",
        "Pantry",
        11.49,
    ),
    product("BB-6002", "Basmati Rice", "basmati-rice", "Pantry", 3.99),
    product(
        "BB-6003",
        "Dark Chocolate 70%",
        "dark-chocolate",
        "Pantry",
        2.99,
    ),
    product(
        "BB-7001",
        "Meal Kit: Thai Green Curry",
        "thai-green-curry-kit",
        "Meal Kits",
        24.0,
    ),
];

/// Pages of the website a visitor browses (name, path, title).
pub(crate) const BROWSE_PAGES: &[(&str, &str, &str)] = &[
    ("Home", "/", "Brightbasket: groceries delivered"),
    ("Deals", "/deals", "This week's deals | Brightbasket"),
    ("Category", "/c/produce", "Fresh produce | Brightbasket"),
    ("Category", "/c/bakery", "Bakery | Brightbasket"),
    ("Category", "/c/meal-kits", "Meal kits | Brightbasket"),
    (
        "Blog",
        "/blog/seasonal-recipes",
        "Seasonal recipes | Brightbasket",
    ),
    (
        "How It Works",
        "/how-it-works",
        "How it works | Brightbasket",
    ),
];

/// Where first visits come from.
pub(crate) const REFERRERS: &[&str] = &[
    "",
    "https://www.google.com/",
    "https://www.google.com/",
    "https://www.instagram.com/",
    "https://www.bing.com/",
    "https://www.facebook.com/",
];

/// App screens of the shop apps.
pub(crate) const SHOP_SCREENS: &[&str] = &["Home", "Search", "Deals", "Orders", "Account"];

/// Recipes of the companion app (id, title).
pub(crate) const RECIPES: &[(&str, &str)] = &[
    ("rcp-101", "One-pan lemon salmon"),
    ("rcp-102", "Green curry in 20 minutes"),
    ("rcp-103", "Avocado toast three ways"),
    ("rcp-104", "Overnight oats"),
    ("rcp-105", "Sheet-pan chicken thighs"),
    ("rcp-106", "Spinach and feta omelette"),
];

/// Support ticket subjects.
pub(crate) const TICKET_SUBJECTS: &[&str] = &[
    "Missing item in my order",
    "Delivery was late",
    "Refund request",
    "Promo code does not apply",
    "Change delivery address",
    "Cannot log in",
];

/// Complaint categories logged by support.
pub(crate) const COMPLAINTS: &[&str] = &[
    "damaged items",
    "late delivery",
    "wrong item",
    "rude courier",
];

/// Marketing campaigns (id, name, subject).
pub(crate) const CAMPAIGNS: &[(&str, &str, &str)] = &[
    (
        "cmp-weekly-deals",
        "Weekly deals",
        "Your deals for this week",
    ),
    ("cmp-new-recipes", "New recipes", "Five new recipes to try"),
    ("cmp-spring-sale", "Spring sale", "20% off fresh produce"),
    (
        "cmp-win-back",
        "Win back",
        "We miss you: free delivery inside",
    ),
    ("cmp-holiday", "Holiday baskets", "Holiday baskets are here"),
];

/// Sales reps of the CRM.
pub(crate) const SALES_REPS: &[&str] = &["maria.k", "devon.b", "sam.o"];

/// iPhone models (machine id) with the iOS versions they run.
pub(crate) const IPHONES: &[&str] = &[
    "iPhone14,5",
    "iPhone14,7",
    "iPhone15,2",
    "iPhone15,4",
    "iPhone16,1",
    "iPhone17,1",
];
/// iPad models.
pub(crate) const IPADS: &[&str] = &["iPad13,18", "iPad14,1", "iPad13,4"];
/// iOS versions.
pub(crate) const IOS_VERSIONS: &[&str] = &["17.6.1", "18.1", "18.3.2", "18.5"];
/// Android phones (manufacturer, model).
pub(crate) const ANDROID_PHONES: &[(&str, &str)] = &[
    ("Google", "Pixel 7"),
    ("Google", "Pixel 8"),
    ("samsung", "SM-S918B"),
    ("samsung", "SM-A546B"),
    ("OnePlus", "CPH2449"),
    ("Xiaomi", "23049PCD8G"),
];
/// Android versions.
pub(crate) const ANDROID_VERSIONS: &[&str] = &["13", "14", "15"];

/// Locales with the time zones people using them live in.
pub(crate) const LOCALES: &[(&str, &str)] = &[
    ("en-US", "America/New_York"),
    ("en-US", "America/Chicago"),
    ("en-US", "America/Los_Angeles"),
    ("en-US", "America/Denver"),
    ("es-US", "America/Los_Angeles"),
    ("en-CA", "America/Toronto"),
];

/// Junk ids buggy clients send.
pub(crate) const JUNK_IDS: &[&str] = &["undefined", "null", "[object Object]"];

/// Shared team mailboxes.
pub(crate) const TEAM_MAILBOXES: &[&str] = &["team", "office", "orders", "admin"];
