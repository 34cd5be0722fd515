//! A tenant's own request rates. Where set, they replace the deployment's
//! defaults for that tenant: what a plan will set.

/// Per second; `None` keeps the deployment's default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestRates {
    /// Database round trips the tenant's requests may make together.
    pub tenant_work: Option<u32>,
    /// Requests each member may make in the tenant.
    pub per_user: Option<u32>,
}

impl RequestRates {
    /// Whether both follow the deployment's defaults.
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}
