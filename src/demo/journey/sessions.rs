//! Sessions: the page, screen, track and identify calls of one visit on one install.

use std::sync::Arc;

use rand::RngExt;
use rand::seq::IndexedRandom;

use super::{HOUR, MINUTE, Planner, SECOND};
use crate::demo::catalog::{BROWSE_PAGES, Product, REFERRERS, SHOP_SCREENS};
use crate::demo::devices::DeviceKind;
use crate::demo::ids::hex;
use crate::demo::plan::{Group, Page, Payload, PlannedEvent, Props, Scalar, Text};
use crate::model::Millis;

/// A run of events on one install: a cursor in time that knows who is logged in.
pub(super) struct Session {
    pub p: usize,
    pub install: usize,
    pub t: Millis,
    pub user: Option<Text>,
    pub group: Group,
    pub buggy: bool,
    pub page: Option<Arc<Page>>,
    pub landing: &'static str,
    pub cart: Option<Text>,
}

impl Planner<'_> {
    pub(super) fn session(
        &mut self,
        p: usize,
        install: usize,
        t: Millis,
        user: Option<Text>,
        group: Group,
    ) -> Session {
        let landing = REFERRERS.choose(self.rng).copied().unwrap_or("");
        Session {
            p,
            install,
            t,
            user,
            group,
            buggy: false,
            page: None,
            landing,
            cart: None,
        }
    }

    /// `pages` page or screen views, some of products, some adding to the cart.
    pub(super) fn browse(&mut self, s: &mut Session, pages: u32) {
        let web = self.kind_of(s.install) == DeviceKind::Web;
        for _ in 0..pages {
            if self.chance(0.3) {
                let product = self.product();
                if web {
                    let path = format!("/products/{}", product.slug);
                    self.page(
                        s,
                        "Product",
                        &path,
                        &format!("{} | Brightbasket", product.name),
                    );
                } else {
                    self.screen(
                        s,
                        "Product Detail",
                        Props::default().with("product_id", product.sku),
                    );
                }
                self.track(s, "Product Viewed", product_props(product));
                if self.chance(0.2) {
                    let cart = match &s.cart {
                        Some(cart) => cart.clone(),
                        None => {
                            let cart: Text = format!("cart_{}", hex(self.rng, 12)).into();
                            s.cart = Some(cart.clone());
                            cart
                        }
                    };
                    self.track(
                        s,
                        "Product Added",
                        product_props(product)
                            .with("cart_id", cart)
                            .with("quantity", Scalar::Int(1)),
                    );
                }
            } else if web {
                let &(name, path, title) =
                    BROWSE_PAGES.choose(self.rng).unwrap_or(&BROWSE_PAGES[0]);
                self.page(s, name, path, title);
            } else {
                let name = SHOP_SCREENS.choose(self.rng).copied().unwrap_or("Home");
                self.screen(s, name, Props::default());
            }
        }
    }

    /// Cart, checkout and a completed order. Returns when it was ordered and the order id.
    pub(super) fn checkout(&mut self, s: &mut Session) -> (Millis, Text) {
        let items: Vec<(&'static Product, i64)> = (0..self.rng.random_range(1..=3))
            .map(|_| (self.product(), self.rng.random_range(1..=3)))
            .collect();
        if self.kind_of(s.install) == DeviceKind::Web {
            self.page(s, "Cart", "/cart", "Your cart | Brightbasket");
        } else {
            self.screen(s, "Cart", Props::default());
        }
        self.complete_order(s, &items)
    }

    pub(super) fn complete_order(
        &mut self,
        s: &mut Session,
        items: &[(&'static Product, i64)],
    ) -> (Millis, Text) {
        let order_id: Text = format!("BB{:08}", self.rng.random_range(0..100_000_000u32)).into();
        let total: f64 = items.iter().map(|(p, q)| p.price * *q as f64).sum();
        let mut started = Props::default()
            .with("order_id", order_id.clone())
            .with("value", Scalar::Money(total))
            .with("currency", "USD");
        if let Some(cart) = &s.cart {
            started.push("cart_id", cart.clone());
        }
        self.track(s, "Checkout Started", started);
        if self.kind_of(s.install) == DeviceKind::Web {
            self.page(s, "Checkout", "/checkout", "Checkout | Brightbasket");
        } else {
            self.screen(s, "Checkout", Props::default());
        }
        let products = items
            .iter()
            .map(|&(p, q)| product_props(p).with("quantity", Scalar::Int(q)))
            .collect();
        let mut completed = Props::default()
            .with("order_id", order_id.clone())
            .with("total", Scalar::Money(total))
            .with("revenue", Scalar::Money(total))
            .with("currency", "USD")
            .with("products", Scalar::List(products));
        if let Some(cart) = &s.cart {
            completed.push("cart_id", cart.clone());
        }
        let at = s.t;
        self.track(s, "Order Completed", completed);
        (at, order_id)
    }

    pub(super) fn page(&mut self, s: &mut Session, name: &'static str, path: &str, title: &str) {
        let referrer = s.page.as_ref().map_or(s.landing, |previous| previous.url());
        let page = Page::new(path, title, referrer);
        s.page = Some(Arc::new(page));
        let anonymous = (s.buggy && s.user.is_some() && self.chance(0.15)).then(|| self.junk());
        self.emit(s, None, anonymous, Payload::Page { name });
        s.t += self.between(8 * SECOND, 2 * MINUTE);
    }

    pub(super) fn screen(&mut self, s: &mut Session, name: &'static str, props: Props) {
        self.emit(s, None, None, Payload::Screen { name, props });
        s.t += self.between(5 * SECOND, 90 * SECOND);
    }

    pub(super) fn track(&mut self, s: &mut Session, event: &'static str, props: Props) {
        let user = (s.buggy && s.user.is_some() && self.chance(0.35)).then(|| self.junk());
        self.emit(s, user, None, Payload::Track { event, props });
        s.t += self.between(2 * SECOND, 40 * SECOND);
    }

    pub(super) fn identify(&mut self, s: &mut Session, traits: Props) {
        self.emit(s, None, None, Payload::Identify { traits });
        s.t += self.between(SECOND, 5 * SECOND);
    }

    /// Plans a client event of session `s`; `user`/`anonymous` override the session's ids.
    pub(super) fn emit(
        &mut self,
        s: &Session,
        user: Option<Text>,
        anonymous: Option<Text>,
        payload: Payload,
    ) {
        let kind = self.kind_of(s.install);
        let send_delay = match kind {
            DeviceKind::Web => self.between(150, 3 * SECOND),
            _ if self.chance(0.05) => self.between(10 * MINUTE, 6 * HOUR),
            _ => self.between(SECOND, 30 * SECOND),
        };
        let install = &self.unit.installs[s.install];
        self.unit.events.push(PlannedEvent {
            time: s.t,
            person: s.p,
            source: install.source,
            install: Some(s.install),
            user_id: user.or_else(|| s.user.clone()),
            anonymous_id: Some(anonymous.unwrap_or_else(|| install.anonymous_id.clone())),
            context_email: None,
            page: if kind == DeviceKind::Web {
                s.page.clone()
            } else {
                None
            },
            payload,
            group: s.group,
            send_delay,
        });
    }
}

/// The standard product properties of the e-commerce spec.
pub(super) fn product_props(product: &'static Product) -> Props {
    Props::default()
        .with("product_id", product.sku)
        .with("sku", product.sku)
        .with("name", product.name)
        .with("category", product.category)
        .with("price", Scalar::Money(product.price))
}
