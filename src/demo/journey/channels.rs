//! Server-side tools: support desk tickets and complaints, CRM calls and opportunities,
//! marketing e-mail and review requests.

use fake::Fake;
use fake::faker::company::raw::CompanyName;
use fake::locales::EN;
use rand::RngExt;
use rand::seq::IndexedRandom;

use super::{Customer, DAY, HOUR, LAST_START, MINUTE, Planner, SECOND};
use crate::demo::catalog::{CAMPAIGNS, COMPLAINTS, SALES_REPS, TICKET_SUBJECTS};
use crate::demo::ids::hex;
use crate::demo::plan::{Group, Payload, PlannedEvent, Props, Scalar, Text};
use crate::demo::sources::SourceId;
use crate::demo::truth::Unlinkable;
use crate::model::Millis;

/// How a server-side tool knows a person: the ids and e-mail it sends.
pub(super) struct Known {
    pub source: SourceId,
    pub user: Option<Text>,
    pub anonymous: Option<Text>,
    /// Sent as `context.traits.email` on track calls.
    pub email: Option<Text>,
    /// The part of the person's journey the tool's events belong to.
    pub group: Group,
}

impl Planner<'_> {
    /// Seed example: an order, a complaint with support a day later, and a review request
    /// e-mail a few hours after that.
    pub(super) fn complaint_before_review(&mut self, c: &mut Customer) {
        let install = c.logins[0].0;
        let t = if self.settings.ends_at.is_some() {
            // Shown by the demo: ordered within the review window, complained since.
            self.between(
                (c.signup + DAY).max(LAST_START - 9 * DAY),
                LAST_START - 5 * DAY,
            )
        } else {
            self.between(c.signup + DAY, LAST_START)
        };
        let user = self.unit.people[c.p].user_id.clone();
        let mut s = self.session(c.p, install, t, Some(user.clone()), Group::Main);
        let (ordered, order_id) = self.checkout(&mut s);
        c.orders.push((ordered, order_id.clone()));
        let complained = ordered + self.between(DAY, 2 * DAY);
        let desk = Known {
            source: SourceId::SupportDesk,
            user: None,
            anonymous: Some(self.unit.people[c.p].support_id.clone()),
            email: Some(self.email_sent(c.p, complained)),
            group: Group::Main,
        };
        let ticket = Scalar::Int(self.rng.random_range(100_000..999_999));
        let created = Props::default()
            .with("ticket_id", ticket.clone())
            .with("subject", "Damaged items in my order")
            .with("priority", "high")
            .with("via", "email")
            .with("order_id", order_id.clone());
        self.server(c.p, &desk, complained, "Ticket Created", created);
        let complaint = Props::default()
            .with("ticket_id", ticket)
            .with("category", "damaged items")
            .with("severity", "high")
            .with("order_id", order_id.clone());
        self.server(
            c.p,
            &desk,
            complained + 4 * MINUTE,
            "Complaint Logged",
            complaint,
        );
        let review = complained + self.between(2 * HOUR, 20 * HOUR);
        let tool = Known {
            source: SourceId::EmailTool,
            user: Some(user),
            anonymous: None,
            email: Some(self.email_sent(c.p, review)),
            group: Group::Main,
        };
        let request = Props::default()
            .with("order_id", order_id)
            .with("campaign_id", "cmp-review-request")
            .with("email_id", format!("em_{}", hex(self.rng, 16)));
        self.server(c.p, &tool, review, "Review Request Sent", request);
    }

    /// The address a ticket comes from: the team mailbox (`from_mailbox`, whatever the
    /// person's own address is by then) or the person's address at `t`.
    fn desk_email(&mut self, p: usize, t: Millis, from_mailbox: bool) -> Text {
        if from_mailbox {
            self.unit.people[p].email.clone()
        } else {
            self.email_sent(p, t)
        }
    }

    /// Support tickets. The desk knows people by its own requester id and their e-mail,
    /// and by userId only when they write from inside the app. Tickets written from a
    /// shared team mailbox (`from_mailbox`) are filed under a requester of their own and
    /// carry nothing else that is the person's: no rule can tell which colleague wrote.
    pub(super) fn support(&mut self, c: &Customer, from_mailbox: bool) {
        let tickets = if self.chance(0.8) { 1 } else { 2 };
        let group = if from_mailbox {
            self.fragment(Unlinkable::SharedMailboxOnly)
        } else {
            Group::Main
        };
        for n in 0..tickets {
            let mut t = self.between(c.signup + DAY, LAST_START);
            let in_app = !from_mailbox && self.chance(0.5);
            let person = &self.unit.people[c.p];
            let requester = if from_mailbox {
                &person.mailbox_support_id
            } else {
                &person.support_id
            };
            let mut desk = Known {
                source: SourceId::SupportDesk,
                user: in_app.then(|| person.user_id.clone()),
                anonymous: Some(requester.clone()),
                email: None,
                group,
            };
            if n == 0 {
                let traits = Props::default()
                    .with("email", self.desk_email(c.p, t, from_mailbox))
                    .with("name", self.unit.people[c.p].name());
                self.server_identify(c.p, &desk, t - MINUTE, traits);
            }
            desk.email = Some(self.desk_email(c.p, t, from_mailbox));
            let ticket = Scalar::Int(self.rng.random_range(100_000..999_999));
            let subject = TICKET_SUBJECTS
                .choose(self.rng)
                .copied()
                .unwrap_or("Refund request");
            let via = if in_app {
                "in-app"
            } else {
                ["email", "web"][self.rng.random_range(0..2)]
            };
            let priority = ["low", "normal", "high"][self.rng.random_range(0..3)];
            let created = Props::default()
                .with("ticket_id", ticket.clone())
                .with("subject", subject)
                .with("priority", priority)
                .with("via", via);
            self.server(c.p, &desk, t, "Ticket Created", created);
            if self.chance(0.2) {
                let category = COMPLAINTS
                    .choose(self.rng)
                    .copied()
                    .unwrap_or("late delivery");
                let complaint = Props::default()
                    .with("ticket_id", ticket.clone())
                    .with("category", category)
                    .with("severity", "normal");
                self.server(c.p, &desk, t + 5 * MINUTE, "Complaint Logged", complaint);
            }
            for _ in 0..self.rng.random_range(1..=3) {
                t += self.between(HOUR, 30 * HOUR);
                let author = if self.chance(0.6) {
                    "agent"
                } else {
                    "customer"
                };
                let reply = Props::default()
                    .with("ticket_id", ticket.clone())
                    .with("author", author);
                self.server(c.p, &desk, t, "Ticket Replied", reply);
            }
        }
    }

    /// Sales touches from the CRM: synced contacts by userId, leads by the CRM's own id.
    pub(super) fn sales(&mut self, c: &Customer) {
        let synced = self.chance(0.7);
        let mut t = self.between(c.signup + DAY, LAST_START);
        let email = self.email_sent(c.p, t);
        let person = &self.unit.people[c.p];
        let crm = Known {
            source: SourceId::Crm,
            user: synced.then(|| person.user_id.clone()),
            anonymous: (!synced).then(|| person.lead_id.clone()),
            email: Some(email.clone()),
            group: Group::Main,
        };
        let mut traits = Props::default()
            .with("email", email)
            .with("name", person.name());
        if let Some(phone) = person.phone.clone() {
            traits.push("phone", phone);
        }
        // Sales deal with people buying for an office: the CRM knows their company.
        let company = match person.company.clone() {
            Some(company) => company,
            None => CompanyName(EN).fake_with_rng::<String, _>(self.rng).into(),
        };
        let account = Props::default().with("name", company.clone());
        traits.push("company", Scalar::Object(account));
        self.server_identify(c.p, &crm, t, traits);
        for _ in 0..self.rng.random_range(1..=2) {
            t += self.between(10 * MINUTE, 3 * DAY);
            let rep = SALES_REPS.choose(self.rng).copied().unwrap_or("sam.o");
            let outcome = ["connected", "voicemail", "no answer"][self.rng.random_range(0..3)];
            let call = Props::default()
                .with("call_id", format!("call_{}", hex(self.rng, 10)))
                .with("duration_s", Scalar::Int(self.rng.random_range(20..1800)))
                .with("outcome", outcome)
                .with("rep", rep);
            self.server(c.p, &crm, t, "Call Logged", call);
        }
        if self.chance(0.4) {
            t += self.between(HOUR, 2 * DAY);
            let amount = f64::from(self.rng.random_range(20..200u32)) * 25.0;
            let opportunity = Props::default()
                .with("opportunity_id", format!("006{}", hex(self.rng, 12)))
                .with("amount", Scalar::Money(amount))
                .with("stage", "qualification")
                .with("account_name", company.clone())
                .with("product", "Office pantry subscription");
            self.server(c.p, &crm, t, "Opportunity Created", opportunity);
        }
    }

    /// Marketing e-mail: campaigns sent, opened, clicked, unsubscribed, and review requests
    /// after orders. The tool knows most people by userId, list imports only by e-mail.
    pub(super) fn marketing(&mut self, c: &Customer) {
        let by_user = self.chance(0.8);
        let person = &self.unit.people[c.p];
        let mut tool = Known {
            source: SourceId::EmailTool,
            user: by_user.then(|| person.user_id.clone()),
            anonymous: (!by_user).then(|| person.contact_id.clone()),
            email: None,
            group: Group::Main,
        };
        let campaigns = self.rng.random_range(1..=3);
        let mut sends: Vec<Millis> = (0..self.scaled(campaigns, 1))
            .map(|_| self.between(c.signup + DAY, LAST_START))
            .collect();
        sends.sort_unstable();
        for t in sends {
            tool.email = Some(self.tool_email(c.p, t));
            let &(id, name, subject) = CAMPAIGNS.choose(self.rng).unwrap_or(&CAMPAIGNS[0]);
            let email_id: Text = format!("em_{}", hex(self.rng, 16)).into();
            let props = Props::default()
                .with("campaign_id", id)
                .with("email_id", email_id);
            let sent = props
                .clone()
                .with("campaign_name", name)
                .with("email_subject", subject);
            self.server(c.p, &tool, t, "Email Sent", sent);
            if self.chance(0.35) {
                let opened = t + self.between(10 * MINUTE, 2 * DAY);
                self.server(c.p, &tool, opened, "Email Opened", props.clone());
                if self.chance(0.3) {
                    let clicked = opened + self.between(10 * SECOND, 30 * MINUTE);
                    let link = format!("https://www.brightbasket.com/deals?utm_campaign={id}");
                    self.server(
                        c.p,
                        &tool,
                        clicked,
                        "Email Clicked",
                        props.clone().with("link_url", link),
                    );
                }
            }
            if self.chance(0.03) {
                let at = t + self.between(HOUR, DAY);
                self.server(c.p, &tool, at, "Unsubscribed", props);
                break;
            }
        }
        for (ordered, order_id) in &c.orders {
            if self.chance(0.3) {
                let at = *ordered + self.between(2 * DAY, 4 * DAY);
                tool.email = Some(self.tool_email(c.p, at));
                let request = Props::default()
                    .with("order_id", order_id.clone())
                    .with("campaign_id", "cmp-review-request");
                self.server(c.p, &tool, at, "Review Request Sent", request);
            }
        }
    }

    /// Plans a server-side track call by a tool that knows the person as `who`.
    pub(super) fn server(
        &mut self,
        p: usize,
        who: &Known,
        t: Millis,
        event: &'static str,
        props: Props,
    ) {
        self.server_event(
            p,
            who,
            t,
            who.email.clone(),
            Payload::Track { event, props },
        );
    }

    /// Plans a server-side identify call (the e-mail goes in the traits).
    pub(super) fn server_identify(&mut self, p: usize, who: &Known, t: Millis, traits: Props) {
        self.server_event(p, who, t, None, Payload::Identify { traits });
    }

    pub(super) fn server_event(
        &mut self,
        p: usize,
        who: &Known,
        t: Millis,
        email: Option<Text>,
        payload: Payload,
    ) {
        let send_delay = self.between(50, 1500);
        self.unit.events.push(PlannedEvent {
            time: t,
            person: p,
            source: who.source,
            install: None,
            user_id: who.user.clone(),
            anonymous_id: who.anonymous.clone(),
            context_email: email,
            page: None,
            payload,
            group: who.group,
            send_delay,
        });
    }
}
