//! What stands in front of every route when the API serves: the request deadline.

pub(crate) mod deadline;
