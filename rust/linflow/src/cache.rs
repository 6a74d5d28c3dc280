//! Workspaces kept between calls on a thread (used by `expm` and `expm_frechet`): a fresh
//! multi-megabyte workspace per call costs more than the arithmetic at moderate sizes, because
//! the allocator hands freed pages back to the system and the next call page-faults on each.

use std::any::Any;
use std::cell::RefCell;
use std::thread::LocalKey;

/// A thread-local slot holding the last workspace of whatever type was put there.
pub(crate) type Slot = RefCell<Option<Box<dyn Any>>>;

/// Runs `f` with the workspace of type `W` held in `slot` (a new one from `make` if the slot is
/// empty or holds another type), and puts it back afterwards when `keep`. The workspace is taken
/// out while `f` runs, so a nested call gets its own; threads never share or wait for one.
pub(crate) fn with_slot<W: 'static, R>(
    slot: &'static LocalKey<Slot>,
    keep: bool,
    make: impl FnOnce() -> W,
    f: impl FnOnce(&mut W) -> R,
) -> R {
    let cached = slot
        .try_with(|c| c.borrow_mut().take())
        .ok()
        .flatten()
        .and_then(|b| b.downcast::<W>().ok());
    let mut work = cached.unwrap_or_else(|| Box::new(make()));
    let result = f(&mut work);
    if keep {
        // Fails only while the thread is being torn down; the workspace is then just dropped.
        let _ = slot.try_with(|c| *c.borrow_mut() = Some(work as Box<dyn Any>));
    }
    result
}
