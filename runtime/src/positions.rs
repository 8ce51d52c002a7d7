//! Finding objects by name in a slice, through a hash table of their positions.
//!
//! The table keeps 4-byte positions, not names: with 10,000 objects it takes 64 KB instead
//! of the 400 KB of a map of (name, position) pairs, so it stays in the caches while the
//! other side of a join streams past. A probe checks the name on the object itself, which
//! the caller reads next anyway.

use std::hash::BuildHasher;

use hashbrown::HashTable;
use hashbrown::hash_table::Entry;

pub(crate) struct Positions<'a, T> {
    items: &'a [T],
    name: fn(&T) -> &str,
    table: HashTable<u32>,
}

fn hash(name: &str) -> u64 {
    rustc_hash::FxBuildHasher.hash_one(name)
}

impl<'a, T> Positions<'a, T> {
    /// Indexes `items` by `name`. Of objects of one name the last is found, as in a map
    /// filled in order; the second value says whether every name was unique (and every
    /// object indexed: those past the 4-billionth are not).
    pub(crate) fn new(items: &'a [T], name: fn(&T) -> &str) -> (Self, bool) {
        let mut p = Self::empty(items, name);
        let mut unique = true;
        for i in 0..items.len() {
            unique &= p.insert(i);
        }
        (p, unique)
    }

    /// A table of none of `items` yet, with room for all of them.
    pub(crate) fn empty(items: &'a [T], name: fn(&T) -> &str) -> Self {
        Positions {
            items,
            name,
            table: HashTable::with_capacity(items.len()),
        }
    }

    /// Indexes the object at position `i`, so that its name finds it from now on. False when
    /// an object of that name was indexed before (which it then stands in for) or there is
    /// no object `i` to index.
    pub(crate) fn insert(&mut self, i: usize) -> bool {
        let (Ok(at), Some(item)) = (u32::try_from(i), self.items.get(i)) else {
            return false;
        };
        let (items, name) = (self.items, self.name);
        let name_at = |j: u32| items.get(j as usize).map_or("", name);
        let key = name(item);
        match self
            .table
            .entry(hash(key), |&j| name_at(j) == key, |&j| hash(name_at(j)))
        {
            Entry::Occupied(mut e) => {
                *e.get_mut() = at;
                false
            }
            Entry::Vacant(e) => {
                e.insert(at);
                true
            }
        }
    }

    fn name_at(&self, i: u32) -> &str {
        self.items.get(i as usize).map_or("", self.name)
    }

    /// The position of the (last) object named `key`.
    pub(crate) fn find(&self, key: &str) -> Option<usize> {
        self.table
            .find(hash(key), |&i| self.name_at(i) == key)
            .map(|&i| i as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name<'a>(s: &&'a str) -> &'a str {
        s
    }

    #[test]
    fn finds_the_last_of_a_name_and_tells_duplicates() {
        let items = ["a", "b", "a", "c"];
        let (p, unique) = Positions::new(&items[..], name);
        assert!(!unique);
        assert_eq!(p.find("a"), Some(2));
        assert_eq!(p.find("b"), Some(1));
        assert_eq!(p.find("c"), Some(3));
        assert_eq!(p.find("d"), None);
        assert_eq!(p.find(""), None);

        let (p, unique) = Positions::new(&items[1..], name);
        assert!(unique);
        assert_eq!(p.find("a"), Some(1));
    }
}
