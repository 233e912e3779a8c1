//! Why two identifiers share a profile: the shortest chain of links between them.

use std::collections::{HashMap, VecDeque};

use crate::model::{Identifier, Link};

/// The links from `a` to `b`, in order (each link's `from`/`to` as stored; the path may
/// walk a link in either direction). `None` when they are not connected; empty when `a == b`.
pub fn why_path<'a>(links: &'a [Link], a: &Identifier, b: &Identifier) -> Option<Vec<&'a Link>> {
    if a == b {
        return Some(Vec::new());
    }
    let mut adjacent: HashMap<&Identifier, Vec<(usize, &Identifier)>> = HashMap::new();
    for (i, link) in links.iter().enumerate() {
        adjacent.entry(&link.from).or_default().push((i, &link.to));
        adjacent.entry(&link.to).or_default().push((i, &link.from));
    }
    let mut came_from: HashMap<&Identifier, (usize, &Identifier)> = HashMap::new();
    let mut queue = VecDeque::from([a]);
    while let Some(node) = queue.pop_front() {
        if node == b {
            let mut path = Vec::new();
            let mut at = b;
            while at != a {
                let (link, prev) = came_from[at];
                path.push(&links[link]);
                at = prev;
            }
            path.reverse();
            return Some(path);
        }
        for &(link, next) in adjacent.get(node).map(Vec::as_slice).unwrap_or_default() {
            if next != a && !came_from.contains_key(next) {
                came_from.insert(next, (link, node));
                queue.push_back(next);
            }
        }
    }
    None
}

/// The chain from `a` to `b` with every link oriented along the walk (its `from` on
/// `a`'s side), as `why` prints it.
pub fn explain(links: &[Link], a: &Identifier, b: &Identifier) -> Option<Vec<Link>> {
    let path = why_path(links, a, b)?;
    let mut at = a.clone();
    let mut chain = Vec::with_capacity(path.len());
    for link in path {
        let mut step = link.clone();
        if step.from != at {
            std::mem::swap(&mut step.from, &mut step.to);
        }
        at = step.to.clone();
        chain.push(step);
    }
    Some(chain)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{LinkRule, Provenance};

    #[test]
    fn explain_orients_each_link_along_the_walk() {
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
    }

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
    fn finds_the_shortest_chain_in_either_direction() {
        let links = vec![
            link("anonymous_id:a1", "user_id:u1", "m1"),
            link("email:e@x.io", "user_id:u1", "m2"),
            link("anonymous_id:a1", "ios.id:d1", "m3"),
            link("ios.id:d1", "email:e@x.io", "m4"),
        ];
        let a = Identifier::parse("anonymous_id:a1").unwrap();
        let e = Identifier::parse("email:e@x.io").unwrap();
        let path = why_path(&links, &a, &e).unwrap();
        assert_eq!(path.len(), 2);
        assert_eq!(path[0].provenance.message_id, "m1");
        assert_eq!(path[1].provenance.message_id, "m2");
        assert_eq!(why_path(&links, &a, &a).unwrap().len(), 0);
        let stranger = Identifier::parse("phone:+1").unwrap();
        assert!(why_path(&links, &a, &stranger).is_none());
    }
}
