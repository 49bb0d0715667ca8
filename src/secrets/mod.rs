//! Secret resolution: (in `resolve`) fetching keys from AWS Secrets Manager, KMS and SSM (with
//! `container` for SnapStart's credentials), (in
//! `refresh`) doing so in the background and on rotation, and (in `indirect`) any setting held
//! there. The `Secret` type itself is the leaf `crate::secret`. Never logs a secret.

mod aws_json;
mod container;
pub mod indirect;
pub(crate) mod refresh;
pub(crate) mod resolve;
