//! Claims and the unblocking walk.
//!
//! Every operation writes a claim `claim.<operation id>` into the
//! operations bucket; the KV revision of its creation is its place in a
//! total order that every process sees the same. Every process runs
//! pulpcore's unblocking walk over the claims in that order: a claim may
//! run when none of its exclusive resources is taken (exclusively or
//! shared) and none of its shared resources is taken exclusively; each
//! claim's resources are then marked taken whether it may run or not, so a
//! waiting exclusive claim holds back later shared claims (fairness).
//!
//! Claims only ever disappear from before a given claim, never appear
//! (later claims get later revisions), and removing claims only frees
//! resources: a claim once granted stays granted.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use super::Resource;

/// What is stored under `claim.<operation id>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    /// The operation.
    pub id: String,
    /// Its place in the order: the revision of the claim's creation
    /// (absent in the first value, whose own revision it is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<u64>,
    /// Resources held alone.
    pub exclusive: Vec<Resource>,
    /// Resources held together with other shared holders.
    pub shared: Vec<Resource>,
}

/// The claims a process knows of, by order.
#[derive(Debug, Default, Clone)]
pub struct Claims {
    by_order: BTreeMap<u64, Claim>,
    order_of: std::collections::HashMap<String, u64>,
}

impl Claims {
    /// Records the claim stored at `revision`.
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::operations::{Claim, Claims};
    ///
    /// let mut claims = Claims::default();
    /// let claim = |id: &str, exclusive: &[&str], shared: &[&str]| Claim {
    ///     id: id.into(),
    ///     order: None,
    ///     exclusive: exclusive.iter().map(|r| r.parse().unwrap()).collect(),
    ///     shared: shared.iter().map(|r| r.parse().unwrap()).collect(),
    /// };
    /// claims.insert(claim("reader1", &[], &["repo:a"]), 1);
    /// claims.insert(claim("writer", &["repo:a"], &[]), 2);
    /// claims.insert(claim("reader2", &[], &["repo:a"]), 3);
    /// assert!(claims.may_run("reader1"));
    /// assert!(!claims.may_run("writer"));
    /// // A waiting writer holds back a later reader:
    /// assert!(!claims.may_run("reader2"));
    /// claims.remove("reader1");
    /// assert!(claims.may_run("writer"));
    /// ```
    pub fn insert(&mut self, claim: Claim, revision: u64) {
        let order = claim.order.unwrap_or(revision);
        if let Some(old) = self.order_of.insert(claim.id.clone(), order) {
            self.by_order.remove(&old);
        }
        self.by_order.insert(order, claim);
    }

    /// Forgets the claim of operation `id`.
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::operations::Claims;
    ///
    /// let mut claims = Claims::default();
    /// claims.remove("unknown"); // nothing to do
    /// assert!(!claims.contains("unknown"));
    /// ```
    pub fn remove(&mut self, id: &str) {
        if let Some(order) = self.order_of.remove(id) {
            self.by_order.remove(&order);
        }
    }

    /// Whether operation `id` has a claim.
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::operations::Claims;
    ///
    /// assert!(!Claims::default().contains("x"));
    /// ```
    pub fn contains(&self, id: &str) -> bool {
        self.order_of.contains_key(id)
    }

    /// pulpcore's unblocking walk: whether operation `id` may run now.
    /// False when `id` has no claim.
    ///
    /// # Examples
    ///
    /// See [`Claims::insert`].
    pub fn may_run(&self, id: &str) -> bool {
        let mut exclusive: HashSet<&Resource> = HashSet::new();
        let mut shared: HashSet<&Resource> = HashSet::new();
        for claim in self.by_order.values() {
            if claim.id == id {
                return claim
                    .exclusive
                    .iter()
                    .all(|r| !exclusive.contains(r) && !shared.contains(r))
                    && claim.shared.iter().all(|r| !exclusive.contains(r));
            }
            exclusive.extend(claim.exclusive.iter());
            shared.extend(claim.shared.iter());
        }
        false
    }

    /// The claims in order.
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::operations::Claims;
    ///
    /// assert_eq!(Claims::default().iter().count(), 0);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = &Claim> {
        self.by_order.values()
    }
}
