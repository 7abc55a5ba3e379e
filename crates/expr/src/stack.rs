//! A stack budget for the recursive parser and evaluator.
//!
//! Depth limits alone do not bound stack use (frames are much larger in debug builds), so the
//! outermost parse or evaluation on a thread records where its stack starts, and deeper
//! recursion fails with an error once it has used [`BUDGET`] bytes from there.

use std::cell::Cell;

/// Stack bytes one parse or evaluation (including nested `eval`, `map`...) may use.
pub(crate) const BUDGET: usize = 1 << 20;

thread_local! {
    static BASE: Cell<usize> = const { Cell::new(0) };
}

#[inline(never)]
fn here() -> usize {
    let marker = 0u8;
    std::hint::black_box(&marker) as *const u8 as usize
}

/// Marks the start of a parse or evaluation; the outermost one on the thread owns the base.
pub(crate) struct StackScope {
    owner: bool,
}

impl StackScope {
    pub(crate) fn enter() -> StackScope {
        let owner = BASE.with(|b| {
            if b.get() == 0 {
                b.set(here());
                true
            } else {
                false
            }
        });
        StackScope { owner }
    }
}

impl Drop for StackScope {
    fn drop(&mut self) {
        if self.owner {
            BASE.with(|b| b.set(0));
        }
    }
}

/// True when the current parse or evaluation has used up its stack budget.
pub(crate) fn exhausted() -> bool {
    let base = BASE.with(Cell::get);
    base != 0 && base.abs_diff(here()) > BUDGET
}
