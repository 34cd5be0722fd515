//! Plans: named sets of limits and features that an operator gives a tenant.
//!
//! The catalog comes from configuration. What an operator set for one tenant
//! (its [`Terms`]: plan, own request rates, own features) is read with every
//! membership and cached with it, following the change feed, so a change
//! reaches every node as fast as a role change does. The binding point
//! resolves the terms against the catalog into the request's
//! [`Entitlements`].

use crate::error::{Error, Result};
use crate::rates::RequestRates;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

/// Checks a plan or feature name: lowercase ASCII letters, digits, `-` and `_`,
/// starting with a letter.
fn checked(s: &str, what: &str) -> Result<String> {
    let ok = (1..=40).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok {
        Ok(s.to_owned())
    } else {
        Err(Error::invalid(
            what,
            "1-40 lowercase letters, digits, '-' or '_', starting with a letter",
        ))
    }
}

/// A plan's name, e.g. `free`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PlanName(String);

impl PlanName {
    /// # Errors
    /// [`Error::Invalid`] on `plan` for anything but a short lowercase name.
    pub fn parse(s: &str) -> Result<Self> {
        checked(s, "plan").map(Self)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PlanName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A feature flag's name, e.g. `bulk-export`. Code asks for a feature by
/// name ([`Entitlements::has`]); a tenant has the features of its plan and
/// those an operator turned on for it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Feature(String);

impl Feature {
    /// # Errors
    /// [`Error::Invalid`] on `feature` for anything but a short lowercase name.
    pub fn parse(s: &str) -> Result<Self> {
        checked(s, "feature").map(Self)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Features one tenant may have turned on beside its plan's.
pub const MAX_OWN_FEATURES: usize = 32;

/// What a plan allows one tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Database round trips of the tenant's requests together, per second.
    pub tenant_work_per_second: u32,
    /// Requests of one member in the tenant, per second.
    pub user_per_second: u32,
    /// Members, pending invitations included.
    pub members: u32,
    /// Projects, deleted ones included until they are purged.
    pub projects: u32,
    /// Tasks, those of deleted projects included until they are purged.
    pub tasks: u32,
    pub webhooks: u32,
    /// Subscriptions open at once, on one node.
    pub subscriptions: u32,
    /// Signed-in sockets open at once, on one node.
    pub sockets: u32,
}

impl Limits {
    /// The system's own work (the CLI, jobs, fixtures) is not held to a plan.
    pub const UNLIMITED: Limits = Limits {
        tenant_work_per_second: u32::MAX,
        user_per_second: u32::MAX,
        members: u32::MAX,
        projects: u32::MAX,
        tasks: u32::MAX,
        webhooks: u32::MAX,
        subscriptions: u32::MAX,
        sockets: u32::MAX,
    };
}

/// A named set of limits and features.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub name: PlanName,
    pub limits: Limits,
    pub features: BTreeSet<Feature>,
}

/// What an operator set for one tenant; stored with the tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Terms {
    /// `None`: the deployment's default plan.
    pub plan: Option<PlanName>,
    /// Its own request rates, over its plan's.
    pub rates: RequestRates,
    /// Features on beside its plan's.
    pub features: BTreeSet<Feature>,
}

/// What one request's tenant is allowed: its terms resolved against the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entitlements {
    pub plan: PlanName,
    pub limits: Limits,
    pub features: BTreeSet<Feature>,
    /// The system's own work has every feature.
    every_feature: bool,
}

impl Entitlements {
    /// For the system's own work: no limit, no feature.
    pub fn unlimited() -> Self {
        Self {
            plan: PlanName("system".to_owned()),
            limits: Limits::UNLIMITED,
            features: BTreeSet::new(),
            every_feature: true,
        }
    }

    /// Whether the tenant has `feature` (its plan's, or its own).
    pub fn has(&self, feature: &str) -> bool {
        self.every_feature || self.features.iter().any(|f| f.as_str() == feature)
    }

    /// What a use case gated by a feature flag checks first.
    ///
    /// # Errors
    /// [`Error::FeatureOff`] when the tenant does not have `feature`.
    pub fn require(&self, feature: &'static str) -> Result<()> {
        if self.has(feature) {
            Ok(())
        } else {
            Err(Error::FeatureOff(feature))
        }
    }
}

/// The deployment's plans, one of them the default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plans {
    default: PlanName,
    plans: BTreeMap<PlanName, Plan>,
    /// Each plan's entitlements, shared by its tenants without terms of their
    /// own: resolving is then a pointer copy on the request path.
    resolved: BTreeMap<PlanName, Arc<Entitlements>>,
}

impl Plans {
    /// # Errors
    /// A message when `default` is not one of `plans`.
    pub fn new(default: PlanName, plans: impl IntoIterator<Item = Plan>) -> Result<Self, String> {
        let plans: BTreeMap<_, _> = plans.into_iter().map(|p| (p.name.clone(), p)).collect();
        if !plans.contains_key(&default) {
            return Err(format!(
                "the default plan {default:?} is not in the catalog"
            ));
        }
        let resolved = plans
            .values()
            .map(|p| {
                let e = Entitlements {
                    plan: p.name.clone(),
                    limits: p.limits,
                    features: p.features.clone(),
                    every_feature: false,
                };
                (p.name.clone(), Arc::new(e))
            })
            .collect();
        Ok(Self {
            default,
            plans,
            resolved,
        })
    }

    /// One plan with these limits, the default (unit tests, examples).
    pub fn single(limits: Limits) -> Self {
        let name = PlanName("standard".to_owned());
        let plan = Plan {
            name: name.clone(),
            limits,
            features: BTreeSet::new(),
        };
        Self::new(name, [plan]).expect("the default is the one plan")
    }

    pub fn default_plan(&self) -> &Plan {
        &self.plans[&self.default]
    }

    pub fn get(&self, name: &PlanName) -> Option<&Plan> {
        self.plans.get(name)
    }

    /// Every plan, by name.
    pub fn all(&self) -> impl Iterator<Item = &Plan> {
        self.plans.values()
    }

    /// # Errors
    /// [`Error::Invalid`] on `plan` for a name the catalog does not have.
    pub fn named(&self, name: &str) -> Result<&Plan> {
        self.get(&PlanName::parse(name)?)
            .ok_or_else(|| Error::invalid("plan", format!("no plan is named {name:?}")))
    }

    /// A tenant's plan (the default when it has none, or one the catalog no
    /// longer has), with its own rates and features over the plan's.
    pub fn entitlements(&self, terms: &Terms) -> Arc<Entitlements> {
        let plan = terms
            .plan
            .as_ref()
            .and_then(|p| self.plans.get(p))
            .unwrap_or_else(|| self.default_plan());
        if terms.rates.is_default() && terms.features.is_empty() {
            return self.resolved[&plan.name].clone();
        }
        let mut limits = plan.limits;
        if let Some(work) = terms.rates.tenant_work {
            limits.tenant_work_per_second = work;
        }
        if let Some(per_user) = terms.rates.per_user {
            limits.user_per_second = per_user;
        }
        Arc::new(Entitlements {
            plan: plan.name.clone(),
            limits,
            features: plan.features.union(&terms.features).cloned().collect(),
            every_feature: false,
        })
    }
}

/// What a tenant stores that its plan counts, in its tenant plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stored {
    Projects,
    Tasks,
}

impl Stored {
    pub fn name(self) -> &'static str {
        match self {
            Stored::Projects => "projects",
            Stored::Tasks => "tasks",
        }
    }

    pub fn max(self, limits: &Limits) -> u32 {
        match self {
            Stored::Projects => limits.projects,
            Stored::Tasks => limits.tasks,
        }
    }
}

/// Checks, after a create, that the tenant still stores no more of `what`
/// than its plan allows; the caller's transaction then rolls back. Counting
/// after inserting leaves an idempotent replay (which inserts nothing) alone.
/// The count stops one past the limit, so it costs at most the limit (and
/// far below it, the adapter may skip it: [`crate::ports::TenantTx::within`]).
///
/// # Errors
/// [`Error::LimitReached`] past the limit.
pub async fn still_within(tx: &dyn crate::ports::TenantTx, what: Stored) -> Result<()> {
    let max = what.max(&tx.context().entitlements().limits);
    if max == u32::MAX {
        return Ok(());
    }
    if !tx.within(what, max).await? {
        return Err(Error::LimitReached {
            limit: what.name(),
            max,
        });
    }
    Ok(())
}

/// Refuses one more of `what` when the tenant already has `have` of a plan's `max`.
///
/// # Errors
/// [`Error::LimitReached`].
pub fn room_for(what: &'static str, max: u32, have: u64) -> Result<()> {
    if have >= u64::from(max) {
        return Err(Error::LimitReached { limit: what, max });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(n: u32) -> Limits {
        Limits {
            tenant_work_per_second: n,
            user_per_second: n,
            members: n,
            projects: n,
            tasks: n,
            webhooks: n,
            subscriptions: n,
            sockets: n,
        }
    }

    fn plan(name: &str, n: u32, features: &[&str]) -> Plan {
        Plan {
            name: PlanName::parse(name).unwrap(),
            limits: limits(n),
            features: features
                .iter()
                .map(|f| Feature::parse(f).unwrap())
                .collect(),
        }
    }

    fn catalog() -> Plans {
        Plans::new(
            PlanName::parse("free").unwrap(),
            [plan("free", 5, &[]), plan("pro", 50, &["sso", "export"])],
        )
        .unwrap()
    }

    #[test]
    fn names_are_short_lowercase_words() {
        for ok in ["free", "pro-2", "team_plus"] {
            assert!(PlanName::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Pro", "2pro", "pro plan", "pro,x", &"p".repeat(41)] {
            assert!(Feature::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_default_plan_must_be_in_the_catalog() {
        let err = Plans::new(PlanName::parse("gold").unwrap(), [plan("free", 1, &[])]);
        assert!(err.unwrap_err().contains("gold"));
    }

    #[test]
    fn a_tenant_without_a_plan_or_with_a_removed_one_has_the_default() {
        let plans = catalog();
        assert_eq!(plans.entitlements(&Terms::default()).limits, limits(5));
        let gone = Terms {
            plan: Some(PlanName::parse("gold").unwrap()),
            ..Terms::default()
        };
        assert_eq!(plans.entitlements(&gone).plan.as_str(), "free");
    }

    #[test]
    fn own_rates_and_features_go_over_the_plans() {
        let terms = Terms {
            plan: Some(PlanName::parse("pro").unwrap()),
            rates: RequestRates {
                tenant_work: Some(7),
                per_user: None,
            },
            features: [Feature::parse("beta").unwrap()].into(),
        };
        let e = catalog().entitlements(&terms);
        assert_eq!(e.limits.tenant_work_per_second, 7);
        assert_eq!(e.limits.user_per_second, 50);
        assert_eq!(e.limits.projects, 50);
        assert!(e.has("sso") && e.has("beta") && !e.has("audit"));
        assert!(matches!(
            e.require("audit"),
            Err(Error::FeatureOff("audit"))
        ));
        assert!(e.require("sso").is_ok());
        assert!(Entitlements::unlimited().require("audit").is_ok());
    }

    #[test]
    fn room_for_refuses_at_the_limit() {
        assert!(room_for("projects", 2, 1).is_ok());
        let err = room_for("projects", 2, 2).unwrap_err();
        assert!(matches!(
            err,
            Error::LimitReached {
                limit: "projects",
                max: 2
            }
        ));
        assert!(room_for("projects", u32::MAX, u64::from(u32::MAX) - 1).is_ok());
    }

    #[test]
    fn unknown_plan_names_are_bad_input() {
        assert!(matches!(catalog().named("gold"), Err(Error::Invalid(_))));
        assert_eq!(catalog().named("pro").unwrap().limits, limits(50));
    }
}
