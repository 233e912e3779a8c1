//! Why two identifiers share a profile: the shortest chain of links between them.

use std::collections::{BTreeMap, VecDeque};

use crate::model::{Identifier, Link};

/// The shortest chain of links from `a` to `b` (each link oriented from `a`'s side), or
/// `None` when the links do not connect them. `a == b` gives an empty chain.
pub fn explain(links: &[Link], a: &Identifier, b: &Identifier) -> Option<Vec<Link>> {
    let mut adjacent: BTreeMap<&Identifier, Vec<(usize, &Identifier)>> = BTreeMap::new();
    for (i, link) in links.iter().enumerate() {
        adjacent.entry(&link.from).or_default().push((i, &link.to));
        adjacent.entry(&link.to).or_default().push((i, &link.from));
    }
    let mut came_from: BTreeMap<&Identifier, (usize, &Identifier)> = BTreeMap::new();
    let mut queue = VecDeque::from([a]);
    while let Some(node) = queue.pop_front() {
        if node == b {
            break;
        }
        for (link, next) in adjacent.get(node).into_iter().flatten() {
            if *next != a && !came_from.contains_key(next) {
                came_from.insert(next, (*link, node));
                queue.push_back(next);
            }
        }
    }
    if a != b && !came_from.contains_key(b) {
        return None;
    }
    let mut chain = Vec::new();
    let mut node = b;
    while node != a {
        let (index, previous) = came_from[node];
        let mut link = links[index].clone();
        if link.from != *previous {
            std::mem::swap(&mut link.from, &mut link.to);
        }
        chain.push(link);
        node = previous;
    }
    chain.reverse();
    Some(chain)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{LinkRule, Provenance};

    fn link(a: &str, b: &str, m: &str) -> Link {
        Link {
            from: Identifier::parse(a).unwrap(),
            to: Identifier::parse(b).unwrap(),
            rule: LinkRule::SameEvent,
            provenance: Provenance {
                message_id: m.into(),
                source: "web".into(),
                time: 0,
                op: None,
            },
        }
    }

    #[test]
    fn finds_the_shortest_chain_oriented_from_a() {
        let links = vec![
            link("user_id:u1", "anonymous_id:a1", "m1"),
            link("user_id:u1", "email:x@y.io", "m2"),
            link("anonymous_id:a1", "ios.id:D", "m3"),
        ];
        let a = Identifier::parse("ios.id:D").unwrap();
        let b = Identifier::parse("email:x@y.io").unwrap();
        let chain = explain(&links, &a, &b).unwrap();
        let steps: Vec<String> = chain
            .iter()
            .map(|l| format!("{}>{}", l.from, l.to))
            .collect();
        assert_eq!(
            steps,
            [
                "ios.id:D>anonymous_id:a1",
                "anonymous_id:a1>user_id:u1",
                "user_id:u1>email:x@y.io"
            ]
        );
        assert_eq!(explain(&links, &a, &a), Some(vec![]));
        assert_eq!(
            explain(&links, &a, &Identifier::parse("phone:1").unwrap()),
            None
        );
    }
}
