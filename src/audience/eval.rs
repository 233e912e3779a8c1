//! Pure evaluation of a condition on one unified profile: its traits and every event of
//! every device, app and channel it holds. No I/O.

use std::cell::OnceCell;

use serde_json::Value;

use crate::model::{CallType, Millis, Profile, StoredEvent};

use super::ast::{Did, EventKind, EventPattern, Expr, Literal, Op, Test, TimeRule, TraitTest};
use super::why::{EventRef, MAX_EVIDENCE_EVENTS, Reason, TraitRef, Why};

/// A profile and its events, oldest first, ready for evaluation by any number of
/// conditions (event JSON is parsed at most once, and only when a clause needs it).
pub struct Journey<'a> {
    profile: &'a Profile,
    events: Vec<&'a StoredEvent>,
    json: Vec<OnceCell<Option<Value>>>,
}

impl<'a> Journey<'a> {
    /// A journey over `events` in any order (they are sorted by time, then ingest order).
    pub fn new(profile: &'a Profile, events: impl IntoIterator<Item = &'a StoredEvent>) -> Self {
        let mut events: Vec<&StoredEvent> = events.into_iter().collect();
        events.sort_by_key(|e| (e.time, e.seq));
        let json = events.iter().map(|_| OnceCell::new()).collect();
        Journey {
            profile,
            events,
            json,
        }
    }

    /// The profile evaluated.
    pub fn profile(&self) -> &Profile {
        self.profile
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether the profile has no events.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    fn raw(&self, index: usize) -> Option<&Value> {
        self.json[index]
            .get_or_init(|| serde_json::from_str(&self.events[index].raw_json).ok())
            .as_ref()
    }

    fn order(&self, index: usize) -> (Millis, u64) {
        let e = self.events[index];
        (e.time, e.seq)
    }
}

/// Evaluates `expr` (with `dids` did-clauses) on a journey at `now`.
pub(super) fn evaluate(expr: &Expr, dids: usize, journey: &Journey<'_>, now: Millis) -> Why {
    let mut eval = Eval {
        journey,
        now,
        matches: (0..dids).map(|_| OnceCell::new()).collect(),
        env: vec![None; dids],
    };
    let outcome = eval.eval(expr, false);
    let mut valid_until = None;
    eval.change_points(expr, &mut valid_until);
    Why {
        member: outcome.holds,
        reasons: outcome.reasons,
        evaluated_at: now,
        valid_until,
    }
}

struct Outcome {
    holds: bool,
    reasons: Vec<Reason>,
}

struct Eval<'e, 'a> {
    journey: &'e Journey<'a>,
    now: Millis,
    /// Per did-clause: indices of events matching its pattern, oldest first.
    matches: Vec<OnceCell<Vec<usize>>>,
    /// Per binding slot: the event the clause named, while the rest of its chain is tried.
    env: Vec<Option<usize>>,
}

impl Eval<'_, '_> {
    fn eval(&mut self, expr: &Expr, negated: bool) -> Outcome {
        match expr {
            Expr::And(terms) => self.chain(terms, negated),
            Expr::Or(terms) => {
                let mut reasons = Vec::new();
                for term in terms {
                    let outcome = self.eval(term, negated);
                    if outcome.holds {
                        return outcome;
                    }
                    reasons.extend(outcome.reasons);
                }
                Outcome {
                    holds: false,
                    reasons,
                }
            }
            Expr::Not(inner) => {
                let outcome = self.eval(inner, !negated);
                Outcome {
                    holds: !outcome.holds,
                    reasons: outcome.reasons,
                }
            }
            Expr::Did(did) => {
                let found = self.found(did);
                let cited: Vec<usize> = found
                    .iter()
                    .rev()
                    .take(MAX_EVIDENCE_EVENTS)
                    .copied()
                    .collect();
                Outcome {
                    holds: !found.is_empty(),
                    reasons: vec![self.reason(did, negated, &cited, found.len())],
                }
            }
            Expr::Trait(test) => self.trait_outcome(test, negated),
        }
    }

    /// An `and` chain, left to right. A clause that binds its event tries each matching
    /// event, newest first, until the rest of the chain holds.
    fn chain(&mut self, terms: &[Expr], negated: bool) -> Outcome {
        let Some((first, rest)) = terms.split_first() else {
            return Outcome {
                holds: true,
                reasons: Vec::new(),
            };
        };
        if let Expr::Did(did) = first {
            if let Some(slot) = did.binds {
                return self.binding_chain(did, slot, rest, negated);
            }
        }
        let head = self.eval(first, negated);
        if !head.holds {
            return head;
        }
        let tail = self.chain(rest, negated);
        let mut reasons = head.reasons;
        reasons.extend(tail.reasons);
        Outcome {
            holds: tail.holds,
            reasons,
        }
    }

    fn binding_chain(&mut self, did: &Did, slot: usize, rest: &[Expr], negated: bool) -> Outcome {
        let candidates = self.found(did);
        let mut first_failure: Option<(usize, Vec<Reason>)> = None;
        for &candidate in candidates.iter().rev() {
            self.env[slot] = Some(candidate);
            let tail = self.chain(rest, negated);
            if tail.holds {
                self.env[slot] = None;
                let mut reasons = vec![self.reason(did, negated, &[candidate], candidates.len())];
                reasons.extend(tail.reasons);
                return Outcome {
                    holds: true,
                    reasons,
                };
            }
            if first_failure.is_none() {
                first_failure = Some((candidate, tail.reasons));
            }
        }
        self.env[slot] = None;
        let reasons = match first_failure {
            Some((candidate, tail)) => {
                let mut reasons = vec![self.reason(did, negated, &[candidate], candidates.len())];
                reasons.extend(tail);
                reasons
            }
            None => vec![self.reason(did, negated, &[], 0)],
        };
        Outcome {
            holds: false,
            reasons,
        }
    }

    /// Events matching a did clause's pattern and time rules under the current bindings.
    fn found(&self, did: &Did) -> Vec<usize> {
        self.pattern_matches(did)
            .iter()
            .copied()
            .filter(|i| did.times.iter().all(|rule| self.time_ok(*rule, *i)))
            .collect()
    }

    fn pattern_matches(&self, did: &Did) -> &[usize] {
        self.matches[did.id].get_or_init(|| {
            (0..self.journey.len())
                .filter(|i| self.pattern_ok(&did.pattern, *i))
                .collect()
        })
    }

    fn time_ok(&self, rule: TimeRule, index: usize) -> bool {
        let (t, seq) = self.journey.order(index);
        let anchor = |slot: usize| self.env[slot].map(|i| self.journey.order(i));
        match rule {
            TimeRule::Within(d) => t <= self.now && t >= self.now - d,
            TimeRule::OlderThan(d) => t < self.now - d,
            TimeRule::AfterTime(at) => t > at,
            TimeRule::BeforeTime(at) => t < at,
            TimeRule::After(slot) => anchor(slot).is_some_and(|a| (t, seq) > a),
            TimeRule::Before(slot) => anchor(slot).is_some_and(|a| (t, seq) < a),
            TimeRule::WithinAfter(d, slot) => {
                anchor(slot).is_some_and(|a| (t, seq) > a && t <= a.0 + d)
            }
            TimeRule::WithinBefore(d, slot) => {
                anchor(slot).is_some_and(|a| (t, seq) < a && t >= a.0 - d)
            }
        }
    }

    fn pattern_ok(&self, pattern: &EventPattern, index: usize) -> bool {
        let event = self.journey.events[index];
        let kind_ok = kind_matches(&pattern.kind, event.call, &event.label);
        let same = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
        kind_ok
            && pattern
                .channel
                .as_deref()
                .is_none_or(|c| same(c, &event.channel))
            && pattern.source.as_deref().is_none_or(|s| {
                same(s, &event.source) || event.app.as_deref().is_some_and(|a| same(s, a))
            })
            && pattern.device.as_deref().is_none_or(|d| {
                let raw = self.journey.raw(index);
                lookup(raw, ["context", "device", "type"].into_iter())
                    .and_then(Value::as_str)
                    .is_some_and(|t| same(d, t))
            })
            && pattern.fields.iter().all(|f| {
                let raw = self.journey.raw(index);
                check(&f.test, lookup(raw, f.path.iter().map(String::as_str)))
            })
    }

    fn reason(&self, did: &Did, negated: bool, cited: &[usize], matched: usize) -> Reason {
        Reason {
            clause: did.text.clone(),
            negated,
            holds: matched > 0,
            events: cited
                .iter()
                .map(|i| EventRef::of(self.journey.events[*i]))
                .collect(),
            matched: matched as u64,
            traits: Vec::new(),
        }
    }

    fn trait_outcome(&self, test: &TraitTest, negated: bool) -> Outcome {
        let (entry, value) = trait_value(self.journey.profile, &test.key);
        let holds = check(&test.test, value.as_ref());
        Outcome {
            holds,
            reasons: vec![Reason {
                clause: test.text.clone(),
                negated,
                holds,
                events: Vec::new(),
                matched: 0,
                traits: vec![TraitRef {
                    key: test.key.clone(),
                    value_json: value.as_ref().map(Value::to_string),
                    set_at: entry,
                }],
            }],
        }
    }

    /// Lowers `until` to the earliest time after now at which a window relative to now
    /// starts or stops covering an event that matches a clause's pattern.
    fn change_points(&self, expr: &Expr, until: &mut Option<Millis>) {
        match expr {
            Expr::And(terms) | Expr::Or(terms) => {
                for term in terms {
                    self.change_points(term, until);
                }
            }
            Expr::Not(inner) => self.change_points(inner, until),
            Expr::Trait(_) => {}
            Expr::Did(did) => {
                for rule in &did.times {
                    let (d, within) = match rule {
                        TimeRule::Within(d) => (*d, true),
                        TimeRule::OlderThan(d) => (*d, false),
                        _ => continue,
                    };
                    for &i in self.pattern_matches(did) {
                        let t = self.journey.order(i).0;
                        // `within d` covers t during [t, t + d]; `before d ago` from t + d + 1.
                        let starts = if within { t } else { t + d + 1 };
                        for point in [starts, t + d + 1] {
                            if point > self.now && until.is_none_or(|u| point < u) {
                                *until = Some(point);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Whether an event of this call type and label is of the kind (name or call type).
pub(super) fn kind_matches(kind: &EventKind, call: CallType, label: &str) -> bool {
    match kind {
        EventKind::Any => true,
        EventKind::Call(c) => call == *c,
        EventKind::Named { call: c, name } => call == *c && event_name(call, label) == Some(name),
    }
}

/// The name of a track event, or of a page or screen, from its stored label.
fn event_name(call: CallType, label: &str) -> Option<&str> {
    match call {
        CallType::Track => Some(label),
        CallType::Page | CallType::Screen => label
            .strip_prefix(call.as_str())
            .and_then(|rest| rest.strip_prefix(' ')),
        _ => None,
    }
}

fn lookup<'v, 'p>(
    root: Option<&'v Value>,
    path: impl Iterator<Item = &'p str>,
) -> Option<&'v Value> {
    let mut current = root?;
    for part in path {
        current = current.as_object()?.get(part)?;
    }
    Some(current)
}

/// A trait's value (a dotted key reaches into an object trait when no trait has that exact
/// name) and the time it was set.
fn trait_value(profile: &Profile, key: &str) -> (Option<Millis>, Option<Value>) {
    let parse = |k: &str| {
        profile.traits.get(k).and_then(|e| {
            serde_json::from_str::<Value>(&e.value_json)
                .ok()
                .map(|v| (e.time, v))
        })
    };
    if let Some((time, value)) = parse(key) {
        return (Some(time), Some(value).filter(|v| !v.is_null()));
    }
    let parts: Vec<&str> = key.split('.').collect();
    for n in (1..parts.len()).rev() {
        if let Some((time, value)) = parse(&parts[..n].join(".")) {
            let inner = lookup(Some(&value), parts[n..].iter().copied()).cloned();
            return (Some(time), inner.filter(|v| !v.is_null()));
        }
    }
    (None, None)
}

/// Applies a test to a value (`None` or `null` = missing; every test but `exists` on a
/// missing value is false).
fn check(test: &Test, value: Option<&Value>) -> bool {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return false;
    };
    match test {
        Test::Exists => true,
        Test::Compare(Op::Ne, literal) => !equals(literal, value),
        Test::Compare(op, literal) => compare(*op, literal, value),
        Test::Contains(literal) => match (literal, value) {
            (Literal::Str(s), Value::String(v)) => v.contains(s.as_str()),
            (literal, Value::Array(items)) => items.iter().any(|i| equals(literal, i)),
            _ => false,
        },
    }
}

fn equals(literal: &Literal, value: &Value) -> bool {
    compare(Op::Eq, literal, value)
}

fn compare(op: Op, literal: &Literal, value: &Value) -> bool {
    let ordering = match (literal, value) {
        (Literal::Str(s), Value::String(v)) => Some(v.as_str().cmp(s.as_str())),
        (Literal::Num(n), Value::Number(v)) => v.as_f64().and_then(|v| v.partial_cmp(n)),
        (Literal::Bool(b), Value::Bool(v)) => Some(v.cmp(b)),
        _ => None,
    };
    let Some(ordering) = ordering else {
        return false;
    };
    match op {
        Op::Eq => ordering.is_eq(),
        Op::Ne => ordering.is_ne(),
        Op::Lt => ordering.is_lt(),
        Op::Gt => ordering.is_gt(),
        Op::Le => ordering.is_le(),
        Op::Ge => ordering.is_ge(),
    }
}
