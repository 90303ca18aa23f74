//! The caller of an authenticated route, taken as a handler argument: who
//! asks (a valid, unexpired, unrevoked token of an existing user) and the
//! state to answer with, so that a handler starts from both at once.
//!
//! ```ignore
//! #[handler]
//! pub async fn show(caller: Caller, req: &mut Request) -> ApiResult<Reply> { … }
//! ```
//!
//! A request without one is answered `401` by [`ApiError`]'s writer before
//! the handler runs.

use super::sessions::{authenticate, AuthUser};
use crate::http::error::ApiError;
use crate::state::{from_depot, State};
use salvo::extract::Metadata;
use salvo::oapi::{Components, EndpointArgRegister, Operation, SecurityRequirement};
use salvo::{Depot, Extractible, Request};
use std::sync::Arc;

pub struct Caller {
    pub auth: AuthUser,
    pub state: State,
}

impl std::ops::Deref for Caller {
    type Target = AuthUser;

    fn deref(&self) -> &AuthUser {
        &self.auth
    }
}

impl<'ex> Extractible<'ex> for Caller {
    fn metadata() -> &'static Metadata {
        static METADATA: Metadata = Metadata::new("Caller");
        &METADATA
    }

    #[allow(refining_impl_trait)]
    async fn extract(req: &'ex mut Request, depot: &'ex mut Depot) -> Result<Self, ApiError> {
        let auth = authenticate(req, depot, false).await?;
        let state = Arc::clone(from_depot(depot)?);
        Ok(Caller { auth, state })
    }
}

/// In the OpenAPI document: the route needs the bearer token (the scheme
/// is declared once, in [`crate::http::openapi`]).
impl EndpointArgRegister for Caller {
    fn register(_components: &mut Components, operation: &mut Operation, _arg: &str) {
        operation.securities.push(SecurityRequirement::new(
            crate::http::openapi::BEARER,
            Vec::<String>::new(),
        ));
    }
}
