//! The typed parameters of route paths: a handler takes `room: RoomId`
//! instead of reading `{room}` by name, so the OpenAPI document learns each
//! parameter's name and type from the handler itself, and a value that does
//! not parse is answered the same way wherever it appears (a 404: an id
//! that cannot exist names nothing).

use crate::http::error::ApiError;
use salvo::extract::{Extractible, Metadata};
use salvo::oapi::{Components, EndpointArgRegister, Operation, Parameter, ParameterIn, Required, ToSchema};
use salvo::{Depot, Request};
use uuid::Uuid;

/// Declares a path parameter type: the template name it reads, the value
/// inside, what a malformed one answers, and its description.
macro_rules! path_parameter {
    ($type:ident, $name:literal, $value:ty, $missing:literal, $description:literal) => {
        #[doc = $description]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct $type(pub $value);

        impl<'ex> Extractible<'ex> for $type {
            fn metadata() -> &'static Metadata {
                static METADATA: Metadata = Metadata::new(stringify!($type));
                &METADATA
            }

            #[allow(refining_impl_trait)]
            async fn extract(req: &'ex mut Request, _depot: &'ex mut Depot) -> Result<Self, ApiError> {
                req.param::<String>($name)
                    .and_then(|raw| raw.parse::<$value>().ok())
                    .map(Self)
                    .ok_or_else(|| ApiError::NotFound($missing.into()))
            }
        }

        impl EndpointArgRegister for $type {
            fn register(components: &mut Components, operation: &mut Operation, _arg: &str) {
                operation.parameters.insert(
                    Parameter::new($name)
                        .parameter_in(ParameterIn::Path)
                        .required(Required::True)
                        .description($description)
                        .schema(<$value as ToSchema>::to_schema(components)),
                );
            }
        }
    };
}

path_parameter!(RoomId, "room", Uuid, "Not found", "A room's id.");
path_parameter!(TrackId, "track", Uuid, "Not found", "A track's id.");
path_parameter!(UserId, "user", Uuid, "Not found", "A user's id.");
path_parameter!(GenreId, "genre", i64, "Genre not found", "A genre's id.");
path_parameter!(PlaylistId, "playlist", i64, "Playlist not found", "A playlist's id.");
path_parameter!(MessageId, "message", i64, "Message not found", "A chat message's id.");

/// A path parameter read as text, named by the handler's argument (`key:
/// PathText` reads `{key}`; a leading `_` is dropped): for names that are
/// not ids (a channel, an app key, a file name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathText(pub String);

impl<'ex> Extractible<'ex> for PathText {
    fn metadata() -> &'static Metadata {
        static METADATA: Metadata = Metadata::new("PathText");
        &METADATA
    }

    #[allow(refining_impl_trait)]
    async fn extract(_req: &'ex mut Request, _depot: &'ex mut Depot) -> Result<Self, ApiError> {
        Err(ApiError::internal("a PathText is named by its argument"))
    }

    #[allow(refining_impl_trait)]
    async fn extract_with_arg(req: &'ex mut Request, _depot: &'ex mut Depot, arg: &str) -> Result<Self, ApiError> {
        Ok(Self(req.param::<String>(arg).unwrap_or_default()))
    }
}

impl EndpointArgRegister for PathText {
    fn register(_components: &mut Components, operation: &mut Operation, arg: &str) {
        operation.parameters.insert(
            Parameter::new(arg)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(salvo::oapi::Object::with_type(salvo::oapi::BasicType::String)),
        );
    }
}
