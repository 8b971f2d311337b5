//! The store's models as the API's wire types (`tron_api`); the `From`
//! impls are in `tron_store::models` (the orphan rule).
use tron_api as w;

/// A page of store models as a page of wire objects.
pub fn page<T, U: From<T>>(p: tron_store::Page<T>) -> w::Page<U> {
    w::Page {
        items: p.items.into_iter().map(U::from).collect(),
        next_cursor: p.next_cursor,
    }
}
