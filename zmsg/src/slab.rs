//! `Slab<T>`: a generational slab, the storage behind `ZLoop`'s readers, timers and tickets.
//!
//! Values live in a `Vec` of slots and are named by a [`Key`] (slot index and generation). A
//! slot's generation moves on whenever its value is removed, so a key of a removed value never
//! matches a later value that reuses the slot. Freed slots are reused, so once the slab has
//! grown to its peak size, inserting and removing do not allocate.
//!
//! Generations are 32 bits. A slot whose generation would wrap around is retired (never reused)
//! rather than wrapped, so even a key kept through four billion reuses of its slot stays stale;
//! the price is one unused slot per four billion removals from it.

use std::ops::{Index, IndexMut};

/// Names a value in a [`Slab`]. `Key::default()` never matches anything.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub(crate) struct Key {
    index: u32,
    gen: u32,
}

/// The index of no slot: a slab never grows this far (see [`Slab::insert`]).
const NO_INDEX: u32 = u32::MAX;

impl Default for Key {
    fn default() -> Self {
        Key {
            index: NO_INDEX,
            gen: 0,
        }
    }
}

impl Key {
    /// The slot this key names (for tests that check slot reuse).
    #[cfg(test)]
    pub(crate) fn index(self) -> u32 {
        self.index
    }
}

struct Slot<T> {
    gen: u32,
    value: Option<T>,
}

/// A `Vec` of slots with a free list; keys carry a generation so that stale keys never match.
pub(crate) struct Slab<T> {
    slots: Vec<Slot<T>>,
    /// Indices of empty slots, reused last-freed first.
    free: Vec<u32>,
    len: usize,
}

impl<T> Slab<T> {
    /// An empty slab.
    pub(crate) fn new() -> Self {
        Slab {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }

    /// Stores `value` in a free slot (or a new one) and returns its key.
    ///
    /// # Panics
    ///
    /// When the slab would hold `u32::MAX` slots.
    pub(crate) fn insert(&mut self, value: T) -> Key {
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                let index = u32::try_from(self.slots.len())
                    .ok()
                    .filter(|&index| index != NO_INDEX)
                    .expect("a slab holds fewer than u32::MAX slots");
                self.slots.push(Slot {
                    gen: 0,
                    value: None,
                });
                index
            }
        };
        let slot = &mut self.slots[index as usize];
        slot.value = Some(value);
        self.len += 1;
        Key {
            index,
            gen: slot.gen,
        }
    }

    /// The value named by `key`, unless it was removed.
    pub(crate) fn get(&self, key: Key) -> Option<&T> {
        self.slots
            .get(key.index as usize)
            .filter(|slot| slot.gen == key.gen)?
            .value
            .as_ref()
    }

    /// The value named by `key`, mutably, unless it was removed.
    pub(crate) fn get_mut(&mut self, key: Key) -> Option<&mut T> {
        self.slots
            .get_mut(key.index as usize)
            .filter(|slot| slot.gen == key.gen)?
            .value
            .as_mut()
    }

    /// True while `key` names a value.
    pub(crate) fn contains(&self, key: Key) -> bool {
        self.get(key).is_some()
    }

    /// Takes the value named by `key` out; from then on `key` matches nothing.
    pub(crate) fn remove(&mut self, key: Key) -> Option<T> {
        let slot = self
            .slots
            .get_mut(key.index as usize)
            .filter(|slot| slot.gen == key.gen)?;
        let value = slot.value.take()?;
        self.len -= 1;
        // A slot whose generation is exhausted is retired: wrapping to 0 would revive old keys.
        if let Some(gen) = slot.gen.checked_add(1) {
            slot.gen = gen;
            self.free.push(key.index);
        }
        Some(value)
    }

    /// The number of values.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The values with their keys, in slot order (not insertion order).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (Key, &T)> {
        self.slots.iter().enumerate().filter_map(|(index, slot)| {
            let key = Key {
                index: index as u32,
                gen: slot.gen,
            };
            slot.value.as_ref().map(|value| (key, value))
        })
    }
}

impl<T> Index<Key> for Slab<T> {
    type Output = T;

    /// The value named by `key`; panics if it was removed.
    fn index(&self, key: Key) -> &T {
        self.get(key).expect("a live slab key")
    }
}

impl<T> IndexMut<Key> for Slab<T> {
    /// The value named by `key`, mutably; panics if it was removed.
    fn index_mut(&mut self, key: Key) -> &mut T {
        self.get_mut(key).expect("a live slab key")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_get_remove() {
        let mut slab = Slab::new();
        let a = slab.insert("a");
        let b = slab.insert("b");
        assert_eq!(slab.len(), 2);
        assert_eq!(slab.get(a), Some(&"a"));
        assert_eq!(slab[a], "a");
        *slab.get_mut(b).unwrap() = "b2";
        slab[b] = "B";
        assert_eq!(slab.remove(b), Some("B"));
        assert_eq!(slab.remove(b), None);
        assert!(slab.contains(a) && !slab.contains(b));
        assert_eq!(slab.get(b), None);
        assert_eq!(slab.get_mut(b), None);
        assert_eq!(slab.len(), 1);
        assert_eq!(slab.iter().collect::<Vec<_>>(), [(a, &"a")]);
    }

    #[test]
    fn freed_slots_are_reused_and_stale_keys_match_nothing() {
        let mut slab = Slab::new();
        let old = slab.insert(1);
        slab.remove(old);
        let new = slab.insert(2);
        assert_eq!(new.index(), old.index(), "the slot is reused");
        assert_ne!(new, old);
        assert_eq!(slab.get(old), None);
        assert_eq!(slab.remove(old), None);
        assert_eq!(slab.get(new), Some(&2));
        assert_eq!(slab.slots.len(), 1);
    }

    #[test]
    fn reuse_does_not_allocate_once_grown() {
        let mut slab = Slab::new();
        let keys: Vec<_> = (0..100).map(|i| slab.insert(i)).collect();
        for key in keys {
            slab.remove(key);
        }
        let (slots, free) = (slab.slots.capacity(), slab.free.capacity());
        for round in 0..10 {
            let keys: Vec<_> = (0..100).map(|i| slab.insert(round * i)).collect();
            for key in keys {
                slab.remove(key);
            }
        }
        assert_eq!((slab.slots.capacity(), slab.free.capacity()), (slots, free));
    }

    #[test]
    #[should_panic(expected = "a live slab key")]
    fn indexing_with_a_stale_key_panics() {
        let mut slab = Slab::new();
        let key = slab.insert(1);
        slab.remove(key);
        let _ = slab[key];
    }

    #[test]
    fn the_default_key_matches_nothing() {
        let mut slab = Slab::new();
        slab.insert(());
        assert!(!slab.contains(Key::default()));
        assert_eq!(slab.remove(Key::default()), None);
    }

    #[test]
    fn a_slot_is_retired_rather_than_its_generation_wrapped() {
        let mut slab = Slab::new();
        let first = slab.insert(0);
        slab.remove(first);
        slab.slots[0].gen = u32::MAX; // as after four billion reuses
        let last = slab.insert(1);
        assert_eq!(last.gen, u32::MAX);
        slab.remove(last);
        let next = slab.insert(2);
        assert_ne!(
            next.index(),
            last.index(),
            "the exhausted slot is not reused"
        );
        assert!(!slab.contains(first) && !slab.contains(last));
        assert_eq!(slab.len(), 1);
    }
}
