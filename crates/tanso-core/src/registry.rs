//! A registry's state: accounts, holders, unit kinds, serial blocks, holds and cash, and the two
//! functions that change it — `decide` (command → events, checked) and `fold` (event → state,
//! re-checked). Every mutation goes through a setter that records an undo step, so a command
//! that fails half-way (a later leg of a multi-leg command, say) leaves the state exactly as it
//! was. The partition of serials into blocks is kept canonical (adjacent blocks with equal
//! attributes, labels, owner and holds are always merged), so the state — and its hash — is a
//! function of what each serial is, not of the history that made it.
//!
//! This module must not do I/O, read clocks or draw random numbers: time and ids come in.

use crate::blocks::OwnerStores;
use crate::checks::{Checks, Code, Rejection};
use crate::encode::{class_tag, hold_kind_tag, straddle_tag, Enc};
use crate::ids::*;
use crate::model::*;
use crate::rangeset::RangeSet;
use crate::units::*;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::Hash;

type R<T> = Result<T, Rejection>;

fn rej(code: Code, msg: impl Into<String>) -> Rejection {
    Rejection::one(code, msg)
}

/// A fast, deterministic hasher for integer keys (account ids). Keys are assigned by registry
/// officers, not chosen by strangers, so flooding is not a concern here.
#[derive(Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

pub(crate) type IdMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<IdHasher>>;

/// Append-only interning of repeated values (attributes, labels, freeze sets) so that a block
/// is a few machine words. Index 0 is always the first value interned.
#[derive(Clone, Debug)]
pub(crate) struct Interner<T: Clone + Eq + Hash> {
    values: Vec<T>,
    index: HashMap<T, u32>,
}

impl<T: Clone + Eq + Hash> Default for Interner<T> {
    fn default() -> Self {
        Interner::new()
    }
}

impl<T: Clone + Eq + Hash> Interner<T> {
    fn new() -> Self {
        Interner {
            values: Vec::new(),
            index: HashMap::new(),
        }
    }
    pub(crate) fn intern(&mut self, v: &T) -> u32 {
        if let Some(&i) = self.index.get(v) {
            return i;
        }
        let i = self.values.len() as u32;
        self.values.push(v.clone());
        self.index.insert(v.clone(), i);
        i
    }
    pub(crate) fn get(&self, i: u32) -> &T {
        &self.values[i as usize]
    }
    pub(crate) fn find(&self, v: &T) -> Option<u32> {
        self.index.get(v).copied()
    }
    fn len(&self) -> usize {
        self.values.len()
    }
    /// Forgets every value interned after the first `len` (undo of a failed command).
    fn truncate(&mut self, len: usize) {
        for v in self.values.drain(len..) {
            self.index.remove(&v);
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnitKind {
    pub has_project: bool,
    pub vintage_rule: VintageRule,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub holder: HolderId,
    pub kind: AccountKindCode,
    pub class: AccountClass,
    pub status: AccountStatus,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    pub kind: HolderKind,
    pub name: PersonalRef,
}

/// A contiguous run of serials with identical everything. Keyed by (issuing, start).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Block {
    pub(crate) end: u64,
    pub(crate) unit_start: u64,
    pub(crate) attrs: u32,
    pub(crate) labels: u32,
    pub(crate) owner: AccountId,
    /// Transferring hold (index into `hold_names`), 0 = none.
    pub(crate) hold: u32,
    /// Interned set of freeze holds, 0 = none.
    pub(crate) freezes: u32,
}

impl Block {
    fn len(&self, start: u64) -> u64 {
        self.end - start + 1
    }
    pub(crate) fn is_free(&self) -> bool {
        self.hold == 0 && self.freezes == 0
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hold {
    pub kind: HoldKind,
    pub account: AccountId,
    pub expires_at: Option<Timestamp>,
    pub units: RangeSet,
    pub cash: Option<(CurrencyCode, Money)>,
    pub(crate) ix: u32,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CashBalance {
    pub available: u64,
    pub held: u64,
}

/// A view of one block for queries and reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockView {
    pub issuing: RegistryId,
    pub range: SerialRange,
    pub unit_start: u64,
    pub attributes: UnitAttributes,
    pub labels: Labels,
    pub owner: AccountId,
    pub hold: Option<HoldId>,
    pub frozen_by: Vec<HoldId>,
}

#[derive(Clone)]
pub(crate) enum Undo {
    Block((RegistryId, u64), Option<Block>),
    Account(AccountId, Option<Account>),
    Holder(HolderId, Option<Holder>),
    UnitKind(UnitKindCode, Option<UnitKind>),
    AccountKind(AccountKindCode, Option<AccountClass>),
    Currency(CurrencyCode, Option<u8>),
    Hold(HoldId, Option<Hold>),
    Cash((AccountId, CurrencyCode), Option<CashBalance>),
    NextSerial(u64),
    BusinessKey(BusinessKey),
    Corrected(u64),
    Registry(Option<RegistryId>, StraddlePolicy),
    HoldNamesLen(usize),
    LinkNext(u64),
    Outbound(crate::link::TransferId, Option<Box<crate::link::Outbound>>),
    Inbound(crate::link::TransferId, Option<Box<crate::link::Inbound>>),
    PendingInserted(IssuedRange),
    PendingRemoved(IssuedRange),
    AlarmsLen(usize),
    Suspense(Option<AccountId>),
    ProjectHost(ProjectId),
    A6Auth(AuthorizationRef),
    CertificateValidity(u16),
}

/// What an applied authorization version allows (from its `AuthorizationApplied` event).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppliedAuthorization {
    pub ca: crate::article6::itmo::CaId,
    pub purposes: crate::article6::authority::Purposes,
    pub parties: Vec<PartyId>,
}

/// The retirement purpose that counts towards the registry's party's NDC.
pub const NDC_PURPOSE: &str = "ndc";
/// The retirement purpose of a use for other international mitigation purposes.
pub const OIMP_PURPOSE: &str = "oimp";
/// The unit kind of India's Carbon Credit Certificates.
pub const CCC_UNIT_KIND: &str = "CCC";
/// Default validity of a certificate: compliance years after its own [U].
pub const DEFAULT_CERTIFICATE_VALIDITY: u16 = 3;
/// The unit kind of JCM credits.
pub const JCM_UNIT_KIND: &str = "JCM";

/// A certificate of compliance year `year` (April `year` to March `year + 1`) is valid through
/// the end of compliance year `year + validity`: 31 March of `year + validity + 1`.
pub fn certificate_expired(year: u16, validity: u16, now: Timestamp) -> bool {
    let last = year as i32 + validity as i32 + 1;
    match Date::from_ymd(last, 3, 31) {
        Ok(d) => now.date() > d,
        Err(_) => false,
    }
}

/// Blocks a quantity takes, from the sender's index.
type Plan = Vec<crate::blocks::Take>;

/// The state of one registry chain.
#[derive(Clone)]
pub struct RegistryState {
    pub(crate) registry: Option<RegistryId>,
    pub(crate) straddle: StraddlePolicy,
    pub(crate) unit_kinds: BTreeMap<UnitKindCode, UnitKind>,
    pub(crate) account_kinds: BTreeMap<AccountKindCode, AccountClass>,
    pub(crate) currencies: BTreeMap<CurrencyCode, u8>,
    pub(crate) holders: BTreeMap<HolderId, Holder>,
    pub(crate) accounts: IdMap<AccountId, Account>,
    /// Every block, by serial and per owner by set (`crate::blocks`).
    pub(crate) blocks: crate::blocks::Blocks,
    pub(crate) attrs: Interner<UnitAttributes>,
    pub(crate) labels: Interner<Labels>,
    pub(crate) freeze_sets: Interner<Vec<u32>>,
    pub(crate) hold_names: Interner<Option<HoldId>>,
    pub(crate) holds: BTreeMap<HoldId, Hold>,
    pub(crate) cash: BTreeMap<(AccountId, CurrencyCode), CashBalance>,
    pub(crate) next_serial: u64,
    pub(crate) business_keys: BTreeSet<BusinessKey>,
    pub(crate) corrected: BTreeSet<u64>,
    pub(crate) link: crate::link::LinkState,
    /// Host party of each project whose credits this registry issued under a mechanism
    /// decision, with the mechanism's foreign-issuance policy.
    pub(crate) project_hosts: BTreeMap<ProjectId, (PartyId, crate::jcm::ForeignIssuance, bool)>,
    /// Authorization versions this registry has applied: what each allows.
    pub(crate) a6_auth: BTreeMap<AuthorizationRef, AppliedAuthorization>,
    /// Compliance years a certificate (CCC) stays valid after its own (named policy).
    pub(crate) certificate_validity: u16,
    /// Set while `decide` folds the events it has just checked: the account checks that it
    /// ran are not repeated. Replay (and `verify`) folds with every check.
    pub(crate) checked_by_decide: bool,
    pub(crate) undo: Vec<Undo>,
    pub(crate) logging: bool,
    /// Reused by `move_quantity`: the plan of the transfer being decided (no state).
    plan: Plan,
}

impl Default for RegistryState {
    fn default() -> Self {
        Self::new()
    }
}

impl RegistryState {
    pub fn new() -> Self {
        let mut freeze_sets = Interner::new();
        freeze_sets.intern(&Vec::new());
        let mut hold_names = Interner::new();
        hold_names.intern(&None);
        RegistryState {
            registry: None,
            straddle: StraddlePolicy::ProRataDaysRemainderLast,
            unit_kinds: BTreeMap::new(),
            account_kinds: BTreeMap::new(),
            currencies: BTreeMap::new(),
            holders: BTreeMap::new(),
            accounts: IdMap::default(),
            blocks: Default::default(),
            attrs: Interner::new(),
            labels: Interner::new(),
            freeze_sets,
            hold_names,
            holds: BTreeMap::new(),
            cash: BTreeMap::new(),
            next_serial: 1,
            business_keys: BTreeSet::new(),
            corrected: BTreeSet::new(),
            link: crate::link::LinkState::default(),
            project_hosts: BTreeMap::new(),
            a6_auth: BTreeMap::new(),
            certificate_validity: DEFAULT_CERTIFICATE_VALIDITY,
            checked_by_decide: false,
            undo: Vec::new(),
            logging: false,
            plan: Vec::new(),
        }
    }

    // ----- transactions -------------------------------------------------------------------

    /// Writes the owner changes that quantity transfers have kept pending (`Blocks::settle`).
    /// Reads are correct without it, but scan those changes: a caller that decides a batch
    /// of transfers calls it at the batch's end, before the state is read.
    pub fn settle(&mut self) {
        self.blocks.settle();
    }

    /// How many owner changes quantity transfers have kept pending (see `settle`).
    pub fn pending_owner_changes(&self) -> usize {
        self.blocks.pending()
    }

    /// Whether deciding `cmd` neither reads nor writes the blocks' owners, so that it may run
    /// while they are lent out (`lend_owners`): a quantity transfer, whose selection reads
    /// the owners' indexes and whose hand-over keeps its owner changes pending. Every other
    /// command (and a dry run) may read them.
    pub fn decides_without_owners(cmd: &Command) -> bool {
        matches!(
            cmd,
            Command::Transfer {
                units: UnitSelection::Quantity { .. },
                ..
            }
        )
    }

    /// Lends out the blocks' owners with the owner changes kept pending, for another thread
    /// to write them ([`OwnerStores::apply`]) while this state decides more commands that
    /// `decides_without_owners`. `None` if they are lent already or nothing is pending.
    /// Whatever needs owners while they are out rebuilds them from the owners' indexes
    /// (correct, but a pass over every block; a loan given back after that is dropped): a
    /// caller gives them back first ([`RegistryState::return_owners`]).
    pub fn lend_owners(&mut self) -> Option<OwnerStores> {
        self.blocks.lend_owners()
    }

    /// Takes back the owners lent by `lend_owners`, writing the lent changes if the borrower
    /// did not.
    pub fn return_owners(&mut self, stores: OwnerStores) {
        self.blocks.return_owners(stores);
    }

    /// Whether the blocks' owners are lent out.
    pub fn owners_away(&self) -> bool {
        self.blocks.owners_away()
    }

    /// Starts recording undo steps. Writes the owner changes the hand-over has kept pending
    /// first (`Blocks::settle`): what follows may read or write owners otherwise.
    pub fn begin(&mut self) {
        self.blocks.settle();
        debug_assert!(self.undo.is_empty());
        self.logging = true;
    }

    /// Keeps every change since `begin`.
    pub fn commit(&mut self) {
        self.undo.clear();
        self.logging = false;
    }

    /// Reverts every change since `begin`.
    pub fn rollback(&mut self) {
        self.logging = false;
        while let Some(u) = self.undo.pop() {
            match u {
                Undo::Block(k, b) => self.put_block(k, b),
                Undo::Account(k, v) => set_map(&mut self.accounts, k, v),
                Undo::Holder(k, v) => set_btree(&mut self.holders, k, v),
                Undo::UnitKind(k, v) => set_btree(&mut self.unit_kinds, k, v),
                Undo::AccountKind(k, v) => set_btree(&mut self.account_kinds, k, v),
                Undo::Currency(k, v) => set_btree(&mut self.currencies, k, v),
                Undo::Hold(k, v) => set_btree(&mut self.holds, k, v),
                Undo::Cash(k, v) => set_btree(&mut self.cash, k, v),
                Undo::NextSerial(n) => self.next_serial = n,
                Undo::BusinessKey(k) => {
                    self.business_keys.remove(&k);
                }
                Undo::Corrected(s) => {
                    self.corrected.remove(&s);
                }
                Undo::Registry(r, p) => {
                    self.registry = r;
                    self.straddle = p;
                }
                Undo::HoldNamesLen(n) => self.hold_names.truncate(n),
                Undo::ProjectHost(p) => {
                    self.project_hosts.remove(&p);
                }
                Undo::A6Auth(a) => {
                    self.a6_auth.remove(&a);
                }
                Undo::CertificateValidity(y) => self.certificate_validity = y,
                link => self.undo_link(link),
            }
        }
    }

    pub(crate) fn log(&mut self, u: Undo) {
        if self.logging {
            self.undo.push(u);
        }
    }

    pub(crate) fn put_block(&mut self, key: (RegistryId, u64), new: Option<Block>) {
        let old = self.blocks.put(key, new);
        self.log(Undo::Block(key, old));
    }

    fn set_account(&mut self, id: AccountId, a: Account) {
        let old = self.accounts.insert(id, a);
        self.log(Undo::Account(id, old));
    }

    fn set_cash(&mut self, key: (AccountId, CurrencyCode), v: CashBalance) {
        let old = self.cash.insert(key, v);
        self.log(Undo::Cash(key, old));
    }

    pub(crate) fn set_hold(&mut self, id: HoldId, v: Option<Hold>) {
        let old = match v {
            Some(h) => self.holds.insert(id.clone(), h),
            None => self.holds.remove(&id),
        };
        self.log(Undo::Hold(id, old));
    }

    // ----- queries --------------------------------------------------------------------------

    pub fn registry(&self) -> Option<RegistryId> {
        self.registry
    }
    pub fn straddle_policy(&self) -> StraddlePolicy {
        self.straddle
    }
    pub fn account(&self, id: AccountId) -> Option<&Account> {
        self.accounts.get(&id)
    }
    pub fn accounts(&self) -> BTreeMap<AccountId, Account> {
        self.accounts.iter().map(|(k, v)| (*k, v.clone())).collect()
    }
    pub fn holder(&self, id: HolderId) -> Option<&Holder> {
        self.holders.get(&id)
    }
    pub fn holders(&self) -> &BTreeMap<HolderId, Holder> {
        &self.holders
    }
    pub fn unit_kinds(&self) -> &BTreeMap<UnitKindCode, UnitKind> {
        &self.unit_kinds
    }
    pub fn account_kinds(&self) -> &BTreeMap<AccountKindCode, AccountClass> {
        &self.account_kinds
    }
    pub fn currencies(&self) -> &BTreeMap<CurrencyCode, u8> {
        &self.currencies
    }
    pub fn holds(&self) -> &BTreeMap<HoldId, Hold> {
        &self.holds
    }
    pub fn cash(&self, account: AccountId, currency: CurrencyCode) -> CashBalance {
        self.cash
            .get(&(account, currency))
            .copied()
            .unwrap_or_default()
    }
    pub fn cash_all(&self) -> &BTreeMap<(AccountId, CurrencyCode), CashBalance> {
        &self.cash
    }
    pub fn next_serial(&self) -> u64 {
        self.next_serial
    }
    pub fn block_count(&self) -> usize {
        self.blocks.len()
    }
    pub fn is_corrected(&self, seq: u64) -> bool {
        self.corrected.contains(&seq)
    }

    fn view(&self, issuing: RegistryId, start: u64, b: Block) -> BlockView {
        BlockView {
            issuing,
            range: SerialRange::new(start, b.end).unwrap_or_else(|_| unreachable_range()),
            unit_start: b.unit_start,
            attributes: self.attrs.get(b.attrs).clone(),
            labels: self.labels.get(b.labels).clone(),
            owner: b.owner,
            hold: self.hold_names.get(b.hold).clone(),
            frozen_by: self
                .freeze_sets
                .get(b.freezes)
                .iter()
                .filter_map(|&h| self.hold_names.get(h).clone())
                .collect(),
        }
    }

    /// Every block, ascending by (issuing registry, serial).
    pub fn blocks(&self) -> Vec<BlockView> {
        self.blocks
            .iter()
            .map(|((i, s), b)| self.view(i, s, b))
            .collect()
    }

    /// The blocks an account owns, ascending by set (attributes, then labels) then serial.
    pub fn holdings(&self, account: AccountId) -> Vec<BlockView> {
        let Some(set) = self.blocks.of(account) else {
            return Vec::new();
        };
        // The index groups sets by number, in order of first use: sorted into the pairs'
        // order when an account holds several.
        let mut keys: Vec<((u32, u32), u64, u32)> = set
            .ascending()
            .map(|(set, o)| (self.blocks.pair(set), o.start, o.slot()))
            .collect();
        if !keys.is_sorted() {
            keys.sort_unstable();
        }
        keys.into_iter()
            .map(|((attrs, _), start, slot)| {
                let issuing = self.attrs.get(attrs).issuing;
                self.view(issuing, start, self.blocks.at_of(slot, account))
            })
            .collect()
    }

    /// Number of blocks an account owns.
    pub fn holding_blocks(&self, account: AccountId) -> usize {
        self.blocks.of(account).map_or(0, |s| s.len())
    }

    /// The block containing a serial, if any.
    pub fn block_at(&self, issuing: RegistryId, serial: u64) -> Option<BlockView> {
        self.blocks
            .containing((issuing, serial))
            .map(|((i, s), b)| self.view(i, s, b))
    }

    // ----- block mechanics ------------------------------------------------------------------

    /// Splits the block containing `serial` so that a block starts exactly at `serial`.
    fn split_at(&mut self, issuing: RegistryId, serial: u64) {
        let found = self
            .blocks
            .before((issuing, serial))
            .filter(|(_, b)| b.end >= serial);
        if let Some((key, b)) = found {
            let left = Block {
                end: serial - 1,
                ..b
            };
            let right = Block {
                unit_start: b.unit_start + (serial - key.1),
                ..b
            };
            self.put_block(key, Some(left));
            self.put_block((issuing, serial), Some(right));
        }
    }

    /// Makes block boundaries fall exactly on the range's ends.
    pub(crate) fn carve(&mut self, r: &IssuedRange) {
        self.split_at(r.issuing, r.range.start());
        if let Some(after) = r.range.end().checked_add(1) {
            self.split_at(r.issuing, after);
        }
    }

    /// Blocks exactly covering a carved range; `None` if any serial of it is not present.
    pub(crate) fn covering(&self, r: &IssuedRange) -> Option<Vec<(u64, Block)>> {
        let mut out = Vec::new();
        let mut expect = r.range.start();
        for (s, b) in self.blocks.range(r.issuing, r.range.start(), r.range.end()) {
            if s != expect {
                return None;
            }
            out.push((s, b));
            expect = b.end.wrapping_add(1);
        }
        (!out.is_empty() && expect.wrapping_sub(1) == r.range.end()).then_some(out)
    }

    pub(crate) fn mergeable(l: &Block, l_start: u64, r: &Block) -> bool {
        l.owner == r.owner
            && l.attrs == r.attrs
            && l.labels == r.labels
            && l.hold == r.hold
            && l.freezes == r.freezes
            && l.unit_start.checked_add(l.len(l_start)) == Some(r.unit_start)
    }

    /// Merges every mergeable neighbour pair from the block before `r` to the block after it.
    pub(crate) fn merge_around(&mut self, r: &IssuedRange) {
        let i = r.issuing;
        let first = self
            .blocks
            .before((i, r.range.start()))
            .filter(|(_, b)| b.end.saturating_add(1) >= r.range.start())
            .map(|((_, s), _)| s)
            .unwrap_or(r.range.start());
        let mut cur = first;
        while let Some(b) = self.blocks.get(&(i, cur)) {
            let Some(next_start) = b.end.checked_add(1) else {
                break;
            };
            match self.blocks.get(&(i, next_start)) {
                Some(n) if Self::mergeable(&b, cur, &n) => {
                    self.put_block((i, next_start), None);
                    self.put_block((i, cur), Some(Block { end: n.end, ..b }));
                    // Stay on `cur`: it may merge with the next one too.
                }
                Some(_) if next_start <= r.range.end().saturating_add(1) => cur = next_start,
                _ => break,
            }
        }
    }

    /// Applies `f` to every block of `ranges` after carving; `check` vets each block first.
    /// On a failed check nothing is applied (the caller's transaction rolls back the carve).
    pub(crate) fn for_blocks(
        &mut self,
        ranges: &[IssuedRange],
        check: impl Fn(&Self, &Block) -> Result<(), Rejection>,
        f: impl Fn(&mut Self, &mut Block),
    ) -> R<()> {
        let mut sorted = ranges.to_vec();
        sorted.sort();
        for w in sorted.windows(2) {
            if w[0].issuing == w[1].issuing && w[0].range.overlaps(&w[1].range) {
                return Err(rej(
                    Code::RANGES_OVERLAP,
                    format!("ranges {} and {} overlap", w[0].range, w[1].range),
                ));
            }
        }
        let mut plan = Vec::with_capacity(sorted.len());
        for r in &sorted {
            self.carve(r);
            let blocks = self.covering(r).ok_or_else(|| {
                rej(
                    Code::UNITS_NOT_HELD,
                    format!(
                        "serials {} {} are not all in this registry",
                        r.issuing, r.range
                    ),
                )
            })?;
            for (_, b) in &blocks {
                check(self, b)?;
            }
            plan.push((r, blocks));
        }
        for (r, blocks) in plan {
            for (s, mut b) in blocks {
                f(self, &mut b);
                self.put_block((r.issuing, s), Some(b));
            }
        }
        for r in &sorted {
            self.merge_around(r);
        }
        Ok(())
    }

    /// Moves exactly `ranges` from `from` to `to`; every block must be owned by `from` and free
    /// of holds.
    pub(crate) fn move_units(
        &mut self,
        from: AccountId,
        to: AccountId,
        ranges: &[IssuedRange],
    ) -> R<()> {
        self.for_blocks(
            ranges,
            |s, b| {
                if b.owner != from {
                    Err(s.not_held(b, from))
                } else if b.hold != 0 {
                    Err(rej(Code::UNITS_HELD, "serials are reserved by a hold"))
                } else if b.freezes != 0 {
                    Err(rej(Code::UNITS_FROZEN, "serials are frozen"))
                } else {
                    Ok(())
                }
            },
            |_, b| b.owner = to,
        )
    }

    /// Why a block cannot be taken from `account`: retired or cancelled (3036) if it sits in a
    /// terminal account, otherwise simply not held (3038).
    pub(crate) fn not_held(&self, b: &Block, account: AccountId) -> Rejection {
        if self
            .accounts
            .get(&b.owner)
            .is_some_and(|a| a.class.is_terminal())
        {
            rej(
                Code::UNITS_RETIRED_OR_CANCELLED,
                format!(
                    "serials are retired or cancelled (in account {}) and can never move again",
                    b.owner.0
                ),
            )
        } else {
            rej(
                Code::UNITS_NOT_HELD,
                format!("serials are not held by account {}", account.0),
            )
        }
    }

    // ----- account checks -------------------------------------------------------------------

    pub(crate) fn check_from(&self, from: AccountId, c: &mut Checks) -> Option<&Account> {
        let Some(a) = self.accounts.get(&from) else {
            c.fail(
                Code::FROM_ACCOUNT_UNKNOWN,
                format!("account {} does not exist", from.0),
            );
            return None;
        };
        c.require(
            a.status != AccountStatus::Closed,
            Code::FROM_ACCOUNT_CLOSED,
            || format!("account {} is closed", from.0),
        );
        c.require(
            a.status != AccountStatus::Frozen,
            Code::FROM_ACCOUNT_FROZEN,
            || format!("account {} is frozen", from.0),
        );
        c.require(
            !a.class.is_terminal(),
            Code::FROM_ACCOUNT_KIND_NOT_ALLOWED,
            || {
                format!(
                    "units in account {} ({}) can never move again",
                    from.0,
                    a.kind.as_str()
                )
            },
        );
        Some(a)
    }

    pub(crate) fn check_to(
        &self,
        to: AccountId,
        allowed: impl Fn(AccountClass) -> bool,
        what: &str,
        c: &mut Checks,
    ) -> Option<&Account> {
        let Some(a) = self.accounts.get(&to) else {
            c.fail(
                Code::TO_ACCOUNT_UNKNOWN,
                format!("account {} does not exist", to.0),
            );
            return None;
        };
        c.require(
            a.status != AccountStatus::Closed,
            Code::TO_ACCOUNT_CLOSED,
            || format!("account {} is closed", to.0),
        );
        c.require(
            a.status != AccountStatus::Frozen,
            Code::TO_ACCOUNT_FROZEN,
            || format!("account {} is frozen", to.0),
        );
        c.require(allowed(a.class), Code::TO_ACCOUNT_KIND_NOT_ALLOWED, || {
            format!(
                "account {} ({}) cannot receive {what}",
                to.0,
                a.kind.as_str()
            )
        });
        Some(a)
    }

    pub(crate) fn check_pair(
        &self,
        from: AccountId,
        to: AccountId,
        allowed: impl Fn(AccountClass) -> bool,
        what: &str,
    ) -> R<()> {
        let mut c = Checks::new();
        self.check_from(from, &mut c);
        self.check_to(to, allowed, what, &mut c);
        c.require(from != to, Code::SAME_ACCOUNT, || {
            format!("account {} is both sides", from.0)
        });
        c.finish()
    }

    // ----- selection ------------------------------------------------------------------------

    fn matches(&self, filter: &SetFilter, attrs: u32, labels: u32) -> bool {
        let a = self.attrs.get(attrs);
        filter.kind.as_ref().is_none_or(|k| &a.kind == k)
            && filter.issuing.is_none_or(|i| a.issuing == i)
            && filter
                .project
                .as_ref()
                .is_none_or(|p| a.project.as_ref() == Some(p))
            && filter.vintage.is_none_or(|v| a.vintage == v)
            && filter
                .labels
                .as_ref()
                .is_none_or(|l| self.labels.get(labels) == l)
    }

    /// The number of the one set (attributes, labels) of `account` that `filter` matches, and
    /// the positions of its entries in the account's index: `None` if none matches, 3012
    /// (ambiguous) if several do. An account usually holds one set: its index has one run.
    fn matching_set(
        &self,
        account: AccountId,
        filter: &SetFilter,
    ) -> R<Option<(u32, std::ops::Range<usize>)>> {
        let Some(set) = self.blocks.of(account) else {
            return Ok(None);
        };
        let mut found = None;
        for (n, span) in set.sets() {
            let (a, l) = self.blocks.pair(n);
            if self.matches(filter, a, l) {
                if found.is_some() {
                    return Err(rej(
                        Code::SELECTION_AMBIGUOUS,
                        format!(
                            "account {} holds several sets matching the selection",
                            account.0
                        ),
                    ));
                }
                found = Some((n, span));
            }
        }
        Ok(found)
    }

    /// The blocks a quantity takes from `account`: `(start, block, taken range)` in ascending
    /// serial order within the one matching set, skipping held and frozen blocks; the last
    /// one may be taken in part, its high end (TV-2).
    fn plan_quantity(
        &self,
        account: AccountId,
        quantity: Quantity,
        filter: &SetFilter,
    ) -> R<(RegistryId, Plan)> {
        let mut out = Vec::with_capacity(4);
        let issuing = self.plan_into(account, quantity, filter, &mut out)?;
        Ok((issuing, out))
    }

    /// `plan_quantity` into `out` (cleared first), which a caller may reuse.
    fn plan_into(
        &self,
        account: AccountId,
        quantity: Quantity,
        filter: &SetFilter,
        out: &mut Plan,
    ) -> R<RegistryId> {
        out.clear();
        let want = quantity.get();
        let short = || {
            rej(
                Code::QUANTITY_EXCEEDS_AVAILABLE,
                format!(
                    "account {} has fewer than {want} units available",
                    account.0
                ),
            )
        };
        let (Some((set_no, span)), Some(set)) =
            (self.matching_set(account, filter)?, self.blocks.of(account))
        else {
            return Err(short());
        };
        let issuing = self.attrs.get(self.blocks.pair(set_no).0).issuing;
        let mut left = want;
        let entries = set.descending();
        for pos in span.rev() {
            let o = &entries[pos];
            if !o.free() {
                continue;
            }
            let (s, end) = (o.start, self.blocks.end_of(o));
            let n = end - s + 1;
            let (rs, take) = if n <= left {
                (s, n)
            } else {
                (end - left + 1, left)
            };
            out.push(crate::blocks::Take {
                pos,
                start: s,
                slot: o.slot(),
                range: SerialRange::new(rs, end)?,
            });
            left -= take;
            if left == 0 {
                return Ok(issuing);
            }
        }
        Err(short())
    }

    /// Picks the ranges a selection means. A quantity is taken from exactly one set, in
    /// ascending serial order, skipping held and frozen blocks; in the one block that is split
    /// the sender keeps the low end and the recipient gets the high end (TV-2).
    pub(crate) fn select(&self, account: AccountId, sel: &UnitSelection) -> R<Vec<IssuedRange>> {
        match sel {
            UnitSelection::Ranges(rs) => {
                if rs.is_empty() {
                    return Err(rej(Code::QUANTITY_ZERO, "no ranges named"));
                }
                Ok(rs.clone())
            }
            UnitSelection::Quantity { quantity, filter } => {
                let (issuing, plan) = self.plan_quantity(account, *quantity, filter)?;
                Ok(plan
                    .into_iter()
                    .map(|t| IssuedRange {
                        issuing,
                        range: t.range,
                    })
                    .collect())
            }
        }
    }

    /// Moves a quantity from `from` to `to` straight from its plan, and returns the ranges
    /// moved: what `select` and then `move_units` would do, with the blocks already in hand
    /// (every planned block is owned by `from` and free, so no carving, covering or re-check
    /// is needed). The accounts must have been checked. Used by `decide` only; replay folds
    /// the `Transferred` event through `move_units` with every check, and the property tests
    /// compare the two states.
    fn move_quantity(
        &mut self,
        from: AccountId,
        to: AccountId,
        quantity: Quantity,
        filter: &SetFilter,
    ) -> R<Vec<IssuedRange>> {
        let mut plan = std::mem::take(&mut self.plan);
        let issuing = self.plan_into(from, quantity, filter, &mut plan)?;
        let ranges = plan
            .iter()
            .map(|t| IssuedRange {
                issuing,
                range: t.range,
            })
            .collect();
        let undo = &mut self.undo;
        let mut push = |k, b| undo.push(Undo::Block(k, b));
        let log = self
            .logging
            .then_some(&mut push as &mut dyn FnMut(crate::blocks::Key, Option<Block>));
        self.blocks.hand_over(issuing, from, to, &plan, log);
        self.plan = plan;
        Ok(ranges)
    }

    /// Reads what deciding `cmds` reads first, for transfers: both accounts, each one's lowest
    /// blocks (where the sender's selection starts and the recipient's new blocks usually
    /// land), the sender's index entries its quantity will likely take, and the record of the
    /// one it splits. A caller deciding a batch touches several commands ahead this way, so
    /// that their cache misses overlap. The reads go in stages over all the commands (accounts
    /// and where their indexes live; then the low ends of those indexes; then the entries the
    /// quantity takes and the split record), so that each stage's addresses are known before
    /// it starts and its loads are in flight together, rather than one chain of dependent
    /// loads per command. The owners of the blocks taken are not read: the hand-over keeps
    /// their changes pending (`Blocks::settle`). Returns a value of no meaning, for the caller
    /// to keep the reads alive; changes nothing.
    pub fn warm(&self, cmds: &[&Command]) -> u64 {
        const AT_ONCE: usize = 16;
        let mut touched = 0u64;
        for chunk in cmds.chunks(AT_ONCE) {
            // Stage 1: each transfer's two accounts, and their indexes (sender, recipient).
            let mut sets: [&[crate::blocks::Owned]; 2 * AT_ONCE] = [&[]; 2 * AT_ONCE];
            for (k, cmd) in chunk.iter().enumerate() {
                let Command::Transfer { from, to, .. } = cmd else {
                    continue;
                };
                for (j, id) in [*from, *to].into_iter().enumerate() {
                    if let Some(a) = self.accounts.get(&id) {
                        touched ^= a.status as u64;
                    }
                    if let Some(set) = self.blocks.of(id) {
                        sets[2 * k + j] = set.descending();
                    }
                }
            }
            // Stage 2: the low end of every index, and its high end (whether an account holds
            // one set only is read from its two ends).
            for set in &sets {
                for o in set.iter().rev().step_by(2).take(4) {
                    touched ^= o.start;
                }
                if let Some(o) = set.first() {
                    touched ^= o.start;
                }
            }
            // Stage 3: the sender's lowest entries, until the quantity is reached (the index
            // read in order), then the record of the one it splits.
            let mut splits = [None; AT_ONCE];
            for (k, cmd) in chunk.iter().enumerate() {
                let Command::Transfer {
                    units: UnitSelection::Quantity { quantity, .. },
                    ..
                } = cmd
                else {
                    continue;
                };
                let mut left = quantity.get();
                for o in sets[2 * k].iter().rev() {
                    let n = self.blocks.end_of(o) - o.start + 1;
                    if n >= left {
                        if n > left {
                            splits[k] = Some(o.slot());
                        }
                        break;
                    }
                    left -= n;
                }
            }
            for &s in splits.iter().flatten() {
                touched ^= self.blocks.unit_start_at(s);
            }
        }
        touched
    }

    // ----- decide ---------------------------------------------------------------------------

    /// Checks a command and applies it, returning its events. On rejection nothing changed.
    pub fn execute(&mut self, cmd: &Command, time: Timestamp) -> R<Vec<Event>> {
        // A quantity transfer changes the state only in its last step, the hand-over of its
        // blocks, which cannot fail (`move_quantity`): every rejection comes before any
        // change, so it keeps no undo steps (one per block otherwise). A dry run, a leg of a
        // multi-leg command and every other command keep them.
        let sure = Self::decides_without_owners(cmd);
        if !sure {
            self.begin();
        }
        // A quantity transfer makes one event, and an event is large: room for just that one.
        let mut events = Vec::with_capacity(usize::from(sure));
        match self.decide(cmd, time, &mut events) {
            Ok(()) => {
                self.commit();
                Ok(events)
            }
            Err(e) => {
                self.rollback();
                Err(e)
            }
        }
    }

    /// Checks a command without applying it: the events it would produce, or every failing
    /// check. The state is unchanged either way.
    pub fn dry_run(&mut self, cmd: &Command, time: Timestamp) -> R<Vec<Event>> {
        self.begin();
        let mut events = Vec::new();
        let r = self.decide(cmd, time, &mut events);
        self.rollback();
        r.map(|()| events)
    }

    /// Applies an entry's events (replay), all or nothing.
    pub fn replay(&mut self, events: &[Event]) -> R<()> {
        self.begin();
        for ev in events {
            if let Err(e) = self.fold(ev) {
                self.rollback();
                return Err(e);
            }
        }
        self.commit();
        Ok(())
    }

    pub(crate) fn emit(&mut self, out: &mut Vec<Event>, ev: Event) -> R<()> {
        self.fold(&ev)?;
        out.push(ev);
        Ok(())
    }

    /// `emit` for an event whose account checks the caller has just run (`check_pair` on the
    /// same state): the fold skips repeating them. Only the transfer command uses it.
    fn emit_checked(&mut self, out: &mut Vec<Event>, ev: Event) -> R<()> {
        self.checked_by_decide = true;
        let r = self.fold(&ev);
        self.checked_by_decide = false;
        r?;
        out.push(ev);
        Ok(())
    }

    pub(crate) fn require_open(&self) -> R<RegistryId> {
        self.registry
            .ok_or_else(|| rej(Code::CHAIN_NOT_OPENED, "the registry has not been opened"))
    }

    fn decide(&mut self, cmd: &Command, time: Timestamp, out: &mut Vec<Event>) -> R<()> {
        if !matches!(cmd, Command::OpenRegistry { .. }) {
            self.require_open()?;
        }
        match cmd {
            Command::OpenRegistry { registry, straddle } => {
                if self.registry.is_some() {
                    return Err(rej(Code::CHAIN_ALREADY_OPENED, "registry already open"));
                }
                self.emit(
                    out,
                    Event::RegistryOpened {
                        registry: *registry,
                        straddle: *straddle,
                    },
                )?;
                for ev in standard_definitions() {
                    self.emit(out, ev)?;
                }
                Ok(())
            }
            Command::SetStraddlePolicy(p) => self.emit(out, Event::StraddlePolicySet(*p)),
            Command::DefineUnitKind {
                code,
                has_project,
                vintage_rule,
            } => self.emit(
                out,
                Event::UnitKindDefined {
                    code: code.clone(),
                    has_project: *has_project,
                    vintage_rule: *vintage_rule,
                },
            ),
            Command::DefineAccountKind { code, class } => self.emit(
                out,
                Event::AccountKindDefined {
                    code: code.clone(),
                    class: *class,
                },
            ),
            Command::DefineCurrency { code, minor_units } => self.emit(
                out,
                Event::CurrencyDefined {
                    code: *code,
                    minor_units: *minor_units,
                },
            ),
            Command::RegisterHolder { holder, kind, name } => self.emit(
                out,
                Event::HolderRegistered {
                    holder: *holder,
                    kind: kind.clone(),
                    name: *name,
                },
            ),
            Command::OpenAccount {
                account,
                holder,
                kind,
            } => {
                let mut c = Checks::new();
                c.require(
                    !self.accounts.contains_key(account),
                    Code::ALREADY_EXISTS,
                    || format!("account {} exists", account.0),
                );
                c.require(
                    self.holders.contains_key(holder),
                    Code::HOLDER_UNKNOWN,
                    || format!("holder {} does not exist", holder.0),
                );
                c.require(
                    self.account_kinds.contains_key(kind),
                    Code::ACCOUNT_KIND_UNKNOWN,
                    || format!("account kind {kind} is not defined"),
                );
                c.finish()?;
                self.emit(
                    out,
                    Event::AccountOpened {
                        account: *account,
                        holder: *holder,
                        kind: kind.clone(),
                    },
                )
            }
            Command::SetAccountStatus { account, status } => self.emit(
                out,
                Event::AccountStatusSet {
                    account: *account,
                    status: *status,
                },
            ),
            Command::Issue {
                account,
                kind,
                project,
                period,
                vintage,
                quantity,
                unit_start,
                citation,
                business_key,
            } => self.decide_issue(
                out,
                *account,
                kind,
                project,
                period,
                *vintage,
                *quantity,
                *unit_start,
                citation,
                business_key,
            ),
            Command::Transfer {
                from,
                to,
                units: UnitSelection::Quantity { quantity, filter },
            } => {
                // Nothing may change the state before `move_quantity` hands the blocks over,
                // nor fail after it: `execute` keeps no undo steps for this command.
                self.check_pair(*from, *to, AccountClass::can_receive_transfer, "transfers")?;
                let ranges = self.move_quantity(*from, *to, *quantity, filter)?;
                out.push(Event::Transferred {
                    from: *from,
                    to: *to,
                    ranges,
                });
                Ok(())
            }
            Command::Transfer { from, to, units } => {
                self.check_pair(*from, *to, AccountClass::can_receive_transfer, "transfers")?;
                let ranges = self.select(*from, units)?;
                self.emit_checked(
                    out,
                    Event::Transferred {
                        from: *from,
                        to: *to,
                        ranges,
                    },
                )
            }
            Command::Retire {
                from,
                to,
                units,
                purpose,
                beneficiary,
                beneficiary_name,
                note,
            } => {
                self.check_pair(*from, *to, |c| c == AccountClass::Retirement, "retirements")?;
                if let Some(h) = beneficiary {
                    if !self.holders.contains_key(h) {
                        return Err(rej(
                            Code::HOLDER_UNKNOWN,
                            format!("beneficiary holder {} does not exist", h.0),
                        ));
                    }
                }
                let ranges = self.select(*from, units)?;
                if purpose.as_str() == NDC_PURPOSE {
                    self.check_usable_towards_ndc(&ranges)?;
                    if self.any_authorized(&ranges) {
                        return Err(rej(
                            Code::USE_YEAR_INVALID,
                            "authorized units are used towards the NDC by use_towards_ndc, \
                             which names the year of use",
                        ));
                    }
                } else if purpose.as_str() == OIMP_PURPOSE {
                    self.check_a6_use(&ranges, false)?;
                }
                self.emit(
                    out,
                    Event::Retired {
                        from: *from,
                        to: *to,
                        ranges,
                        purpose: purpose.clone(),
                        beneficiary: *beneficiary,
                        beneficiary_name: *beneficiary_name,
                        note: *note,
                    },
                )
            }
            Command::Cancel {
                from,
                to,
                units,
                kind,
                note,
            } => {
                let want = cancellation_class(*kind);
                self.check_pair(*from, *to, |c| c == want, "this cancellation")?;
                let ranges = self.select(*from, units)?;
                self.emit(
                    out,
                    Event::Cancelled {
                        from: *from,
                        to: *to,
                        ranges,
                        kind: *kind,
                        note: *note,
                    },
                )
            }
            Command::SetLabels {
                ranges,
                labels,
                citation,
            } => self.emit(
                out,
                Event::LabelsSet {
                    ranges: ranges.clone(),
                    labels: labels.clone(),
                    citation: citation.clone(),
                },
            ),
            Command::PlaceHold {
                hold,
                kind,
                account,
                target,
                expires_at,
            } => {
                let mut c = Checks::new();
                c.require(
                    self.hold_names.find(&Some(hold.clone())).is_none(),
                    Code::HOLD_ID_EXISTS,
                    || format!("hold {hold} exists or existed"),
                );
                c.require(
                    expires_at.is_none() || kind.expires(),
                    Code::HOLD_NEEDS_DECISION,
                    || "only local holds can expire".into(),
                );
                self.check_from(*account, &mut c);
                c.finish()?;
                let asset = match target {
                    HoldTarget::Units(sel) => HeldAsset::Units(self.select(*account, sel)?),
                    HoldTarget::Cash { currency, amount } => HeldAsset::Cash {
                        currency: *currency,
                        amount: *amount,
                    },
                };
                self.emit(
                    out,
                    Event::HoldPlaced {
                        hold: hold.clone(),
                        kind: *kind,
                        account: *account,
                        asset,
                        expires_at: *expires_at,
                    },
                )
            }
            Command::ReleaseHold {
                hold,
                part,
                decision,
            } => {
                let h = self.hold(hold)?;
                if h.kind == HoldKind::CrossRegistryTransfer && decision.is_none() {
                    return Err(rej(
                        Code::HOLD_NEEDS_DECISION,
                        format!("hold {hold} is released only by its transfer's decision"),
                    ));
                }
                let asset = hold_part(h, hold, part)?;
                let cause = match decision {
                    Some(c) => ReleaseCause::Decision(c.clone()),
                    None => ReleaseCause::Request,
                };
                self.emit(
                    out,
                    Event::HoldReleased {
                        hold: hold.clone(),
                        asset,
                        cause,
                    },
                )
            }
            Command::PostHold { hold, to, part } => {
                let h = self.hold(hold)?;
                if !h.kind.is_transferring() {
                    return Err(rej(
                        Code::HOLD_PART_EXCEEDS,
                        format!("hold {hold} is a freeze: nothing can be posted from it"),
                    ));
                }
                let asset = hold_part(h, hold, part)?;
                let mut c = Checks::new();
                self.check_to(*to, AccountClass::can_receive_transfer, "transfers", &mut c);
                c.finish()?;
                self.emit(
                    out,
                    Event::HoldPosted {
                        hold: hold.clone(),
                        to: *to,
                        asset,
                    },
                )
            }
            Command::ExpireHolds { now } => {
                let due: Vec<(HoldId, HeldAsset)> = self
                    .holds
                    .iter()
                    .filter(|(_, h)| h.kind.expires() && h.expires_at.is_some_and(|t| t <= *now))
                    .map(|(id, h)| (id.clone(), full_asset(h)))
                    .collect();
                let _ = time;
                for (hold, asset) in due {
                    self.emit(
                        out,
                        Event::HoldReleased {
                            hold,
                            asset,
                            cause: ReleaseCause::Expiry,
                        },
                    )?;
                }
                Ok(())
            }
            Command::DepositCash {
                account,
                currency,
                amount,
            } => self.emit(
                out,
                Event::CashDeposited {
                    account: *account,
                    currency: *currency,
                    amount: *amount,
                },
            ),
            Command::WithdrawCash {
                account,
                currency,
                amount,
            } => self.emit(
                out,
                Event::CashWithdrawn {
                    account: *account,
                    currency: *currency,
                    amount: *amount,
                },
            ),
            Command::TransferCash {
                from,
                to,
                currency,
                amount,
            } => {
                self.check_pair(*from, *to, AccountClass::can_receive_transfer, "cash")?;
                self.emit(
                    out,
                    Event::CashTransferred {
                        from: *from,
                        to: *to,
                        currency: *currency,
                        amount: *amount,
                    },
                )
            }
            Command::Correct { target, note } => self.decide_correct(out, target, *note),
            Command::MultiLeg(legs) => {
                if legs.is_empty() {
                    return Err(rej(Code::LEG_NOT_ALLOWED, "a multi-leg command needs legs"));
                }
                for (i, leg) in legs.iter().enumerate() {
                    if !leg_allowed(leg) {
                        return Err(rej(
                            Code::LEG_NOT_ALLOWED,
                            format!(
                                "leg {} ({}) cannot be part of a multi-leg command",
                                i + 1,
                                leg.name()
                            ),
                        ));
                    }
                    self.decide(leg, time, out).map_err(|mut e| {
                        for f in &mut e.failures {
                            f.message = format!("leg {}: {}", i + 1, f.message);
                        }
                        e
                    })?;
                }
                Ok(())
            }
            Command::TransferOut {
                from,
                to_registry,
                to_account,
                units,
                decide_by,
            } => self.decide_transfer_out(
                out,
                *from,
                *to_registry,
                *to_account,
                units,
                *decide_by,
                time,
            ),
            Command::ExpireTransfers { now } => self.decide_expire_transfers(out, *now, time),
            Command::CancelTransfer { transfer_id } => {
                self.decide_cancel_transfer(out, transfer_id, time)
            }
            Command::ReceiveLink(env) => self.decide_receive(out, env, time),
            Command::SetSuspenseAccount { account } => {
                self.emit(out, Event::SuspenseAccountSet { account: *account })
            }
            Command::IssueFromDecision { citation, cited } => {
                self.decide_issue_from_decision(out, citation, cited.as_ref())
            }
            Command::ApplyAuthorization {
                citation,
                cited,
                account,
                units,
            } => self.decide_apply_authorization(out, citation, cited.as_ref(), *account, units),
            Command::IssueCertificates { citation, cited } => {
                self.decide_issue_certificates(out, citation, cited.as_ref())
            }
            Command::SurrenderCertificates {
                from,
                to,
                units,
                entity,
                year,
            } => {
                self.check_pair(*from, *to, |c| c == AccountClass::Surrender, "surrenders")?;
                let ranges = self.select(*from, units)?;
                let validity = self.certificate_validity;
                self.each_block(&ranges, |b| {
                    if b.attributes.kind.as_str() != CCC_UNIT_KIND {
                        return Err(rej(
                            Code::UNIT_KIND_UNKNOWN,
                            format!("serials {} {} are not certificates", b.issuing, b.range),
                        ));
                    }
                    if certificate_expired(b.attributes.vintage.year(), validity, time) {
                        return Err(rej(
                            Code::CERTIFICATE_EXPIRED,
                            format!(
                                "certificates of compliance year {} expired (validity {validity} years)",
                                b.attributes.vintage.year()
                            ),
                        ));
                    }
                    Ok(())
                })?;
                self.emit(
                    out,
                    Event::Surrendered {
                        from: *from,
                        to: *to,
                        ranges,
                        entity: entity.clone(),
                        year: *year,
                    },
                )
            }
            Command::ExpireCertificates { now, to } => {
                let mut c = Checks::new();
                self.check_to(*to, |k| k == AccountClass::Expired, "expiry", &mut c);
                c.finish()?;
                let validity = self.certificate_validity;
                let mut by_owner: BTreeMap<AccountId, Vec<IssuedRange>> = BTreeMap::new();
                for b in self.blocks() {
                    let terminal = self.account(b.owner).is_none_or(|a| a.class.is_terminal());
                    if !terminal
                        && b.hold.is_none()
                        && b.attributes.kind.as_str() == CCC_UNIT_KIND
                        && certificate_expired(b.attributes.vintage.year(), validity, *now)
                    {
                        by_owner.entry(b.owner).or_default().push(IssuedRange {
                            issuing: b.issuing,
                            range: b.range,
                        });
                    }
                }
                for (from, ranges) in by_owner {
                    self.emit(
                        out,
                        Event::CertificatesExpired {
                            from,
                            to: *to,
                            ranges,
                        },
                    )?;
                }
                Ok(())
            }
            Command::SetCertificateValidity { years } => {
                self.emit(out, Event::CertificateValiditySet { years: *years })
            }
            Command::UseTowardsNdc {
                from,
                to,
                units,
                year,
                beneficiary,
            } => {
                self.check_pair(*from, *to, |c| c == AccountClass::Retirement, "retirements")?;
                let ranges = self.select(*from, units)?;
                self.check_a6_use(&ranges, true)?;
                self.emit(
                    out,
                    Event::Retired {
                        from: *from,
                        to: *to,
                        ranges: ranges.clone(),
                        purpose: PurposeCode::parse(NDC_PURPOSE).map_err(Rejection::from)?,
                        beneficiary: *beneficiary,
                        beneficiary_name: None,
                        note: None,
                    },
                )?;
                self.emit(
                    out,
                    Event::UseYearRecorded {
                        ranges,
                        year: *year,
                    },
                )
            }
            Command::OpenMechanism { .. }
            | Command::OpenPartyAuthority { .. }
            | Command::RecordDecision { .. }
            | Command::A6(_)
            | Command::Ccts(_)
            | Command::Jcm(_) => Err(rej(
                Code::COMMAND_NOT_FOR_CHAIN,
                format!("{} is not a registry command", cmd.name()),
            )),
        }
    }

    pub(crate) fn hold(&self, id: &HoldId) -> R<&Hold> {
        self.holds
            .get(id)
            .ok_or_else(|| rej(Code::HOLD_UNKNOWN, format!("hold {id} does not exist")))
    }

    /// Issues this registry's lines of a notified JCM issuance (the cited entry, resolved by
    /// the engine), once per decision and registry.
    fn decide_issue_from_decision(
        &mut self,
        out: &mut Vec<Event>,
        citation: &Citation,
        cited: Option<&CitedEntry>,
    ) -> R<()> {
        let registry = self.require_open()?;
        let ChainId::Mechanism(mechanism) = &citation.chain else {
            return Err(rej(
                Code::NOT_A_NOTIFIED_ISSUANCE,
                format!("{} is not a mechanism chain", citation.chain),
            ));
        };
        let notified = cited.and_then(|c| {
            c.events.iter().find_map(|e| match e {
                Event::Jcm(crate::jcm::JcmEvent::IssuanceNotified {
                    decision,
                    project,
                    host,
                    foreign,
                    eligible,
                    lines,
                    ..
                }) => Some((decision, project, host, (foreign, eligible), lines)),
                _ => None,
            })
        });
        let Some((decision, project, host, (foreign, eligible), lines)) = notified else {
            return Err(rej(
                Code::NOT_A_NOTIFIED_ISSUANCE,
                format!(
                    "entry {} of {} is not an issuance notification",
                    citation.seq, citation.chain
                ),
            ));
        };
        let mine: Vec<_> = lines.iter().filter(|l| l.registry == registry).collect();
        if mine.is_empty() {
            return Err(rej(
                Code::NOT_A_NOTIFIED_ISSUANCE,
                format!("decision {decision} has no share for {registry}"),
            ));
        }
        let key = BusinessKey::parse(&format!("jcm:{mechanism}:{decision}:{registry}"))
            .map_err(|c| rej(c, "decision id too long for a business key"))?;
        if self.business_keys.contains(&key) {
            return Err(rej(
                Code::BUSINESS_KEY_USED,
                format!("{registry} already issued its share of decision {decision}"),
            ));
        }
        match self.project_hosts.get(project) {
            Some(&(h, f, e)) if h == *host && f == *foreign && e == *eligible => {}
            Some(_) => {
                return Err(rej(
                    Code::ATTRIBUTES_DISAGREE,
                    format!("project {project}'s host or policy differs from the one recorded"),
                ))
            }
            None => self.emit(
                out,
                Event::ProjectHostRecorded {
                    project: project.clone(),
                    host: *host,
                    foreign: *foreign,
                    eligible: *eligible,
                },
            )?,
        }
        // The CCTS offset mechanism (a mechanism chain whose id starts with `CCTS`) issues
        // Carbon Credit Certificates, whose vintage is the compliance (financial) year holding
        // the period; the JCM issues JCM credits, by calendar year.
        let offsets = mechanism.as_str().starts_with("CCTS");
        let kind = UnitKindCode::parse(if offsets {
            CCC_UNIT_KIND
        } else {
            JCM_UNIT_KIND
        })
        .map_err(Rejection::from)?;
        for (i, l) in mine.into_iter().enumerate() {
            let q = Quantity::new(l.quantity)?;
            let vintage = if offsets {
                use crate::ccts::compliance::ComplianceYear;
                let fy = ComplianceYear::containing(l.period.start())?;
                if !fy.contains(l.period.end()) {
                    return Err(rej(
                        Code::VINTAGE_RULE,
                        "an offset issuance's period must lie within one compliance year",
                    ));
                }
                Some(Vintage::new(fy.first_year() as i64)?)
            } else {
                None
            };
            self.decide_issue(
                out,
                l.account,
                &kind,
                &Some(project.clone()),
                &l.period,
                vintage,
                q,
                Some(l.unit_start),
                &Some(citation.clone()),
                &if i == 0 { Some(key.clone()) } else { None },
            )?;
        }
        Ok(())
    }

    /// Issues the certificates of an evaluated surplus (see `Command::IssueCertificates`).
    fn decide_issue_certificates(
        &mut self,
        out: &mut Vec<Event>,
        citation: &Citation,
        cited: Option<&CitedEntry>,
    ) -> R<()> {
        use crate::ccts::{compliance::ComplianceYear, CctsEvent};
        let registry = self.require_open()?;
        let ChainId::Mechanism(mechanism) = &citation.chain else {
            return Err(rej(
                Code::NOT_A_NOTIFIED_ISSUANCE,
                "cite the CCTS chain's evaluation",
            ));
        };
        let found = cited.and_then(|c| {
            c.events.iter().find_map(|e| match e {
                Event::Ccts(CctsEvent::Evaluated {
                    entity,
                    year,
                    outcome: crate::ccts::compliance::Outcome::Surplus { certificates, .. },
                    registry: r,
                    account,
                    ..
                }) if *r == registry => Some((entity, *year, *certificates, *account)),
                _ => None,
            })
        });
        let Some((entity, year, certificates, account)) = found else {
            return Err(rej(
                Code::NOT_A_NOTIFIED_ISSUANCE,
                format!(
                    "entry {} of {} is no surplus evaluation for {registry}",
                    citation.seq, citation.chain
                ),
            ));
        };
        let key = BusinessKey::parse(&format!("ccts:{mechanism}:{entity}:{year}"))
            .map_err(|c| rej(c, "entity id too long for a business key"))?;
        let (start, end) = ComplianceYear(year).period()?;
        self.decide_issue(
            out,
            account,
            &UnitKindCode::parse(CCC_UNIT_KIND).map_err(Rejection::from)?,
            &Some(entity.clone()),
            &MitigationPeriod::new(start, end)?,
            Some(Vintage::new(year as i64)?),
            Quantity::new(certificates)?,
            None,
            &Some(citation.clone()),
            &Some(key),
        )
    }

    /// Calls `f` on every block overlapping `ranges` (views, no carving).
    fn each_block(&self, ranges: &[IssuedRange], mut f: impl FnMut(&BlockView) -> R<()>) -> R<()> {
        for r in ranges {
            let mut serial = r.range.start();
            while serial <= r.range.end() {
                let Some(b) = self.block_at(r.issuing, serial) else {
                    break;
                };
                f(&b)?;
                match b.range.end().checked_add(1) {
                    Some(n) => serial = n,
                    None => break,
                }
            }
        }
        Ok(())
    }

    fn any_authorized(&self, ranges: &[IssuedRange]) -> bool {
        self.each_block(ranges, |b| {
            if b.labels.authorization.is_some() {
                Err(rej(Code::PURPOSE_NOT_AUTHORIZED, ""))
            } else {
                Ok(())
            }
        })
        .is_err()
    }

    /// A use of authorized units: towards the NDC needs the NDC purpose and this party among
    /// the authorized (or the authorizing) parties; for OIMP, the OIMP purpose.
    fn check_a6_use(&self, ranges: &[IssuedRange], ndc: bool) -> R<()> {
        let me = self.require_open()?.party();
        self.each_block(ranges, |b| {
            let Some(a) = &b.labels.authorization else {
                return if ndc {
                    Err(rej(
                        Code::PURPOSE_NOT_AUTHORIZED,
                        format!("serials {} {} are not authorized", b.issuing, b.range),
                    ))
                } else {
                    Ok(())
                };
            };
            let applied = self.a6_auth.get(a).ok_or_else(|| {
                rej(
                    Code::AUTHORIZATION_UNKNOWN,
                    format!("authorization {} unknown here", a.authorization),
                )
            })?;
            let ok = if ndc {
                applied.purposes.ndc
            } else {
                applied.purposes.oimp
            };
            if !ok {
                return Err(rej(
                    Code::PURPOSE_NOT_AUTHORIZED,
                    format!(
                        "authorization {} v{} does not cover use {}",
                        a.authorization,
                        a.version,
                        if ndc { "towards an NDC" } else { "for OIMP" }
                    ),
                ));
            }
            if ndc && me != a.party && !applied.parties.contains(&me) {
                return Err(rej(
                    Code::PARTY_NOT_AUTHORIZED,
                    format!("{me} is not authorized to use these units towards its NDC"),
                ));
            }
            Ok(())
        })
    }

    /// Applies an authorization version to units (see `Command::ApplyAuthorization`).
    fn decide_apply_authorization(
        &mut self,
        out: &mut Vec<Event>,
        citation: &Citation,
        cited: Option<&CitedEntry>,
        account: AccountId,
        units: &UnitSelection,
    ) -> R<()> {
        use crate::article6::authority::{A6Event, FirstTransferDefinition};
        let me = self.require_open()?.party();
        let ChainId::PartyAuthority(party) = &citation.chain else {
            return Err(rej(
                Code::AUTHORIZATION_UNKNOWN,
                format!("{} is not a party authority chain", citation.chain),
            ));
        };
        let auth = cited
            .and_then(|c| {
                c.events.iter().find_map(|e| match e {
                    Event::A6(a6) => match &**a6 {
                        A6Event::Authorized(a) => Some(a),
                        _ => None,
                    },
                    _ => None,
                })
            })
            .ok_or_else(|| {
                rej(
                    Code::AUTHORIZATION_UNKNOWN,
                    format!(
                        "entry {} of {} is not an authorization",
                        citation.seq, citation.chain
                    ),
                )
            })?;
        let mut c = Checks::new();
        self.check_from(account, &mut c);
        c.finish()?;
        let ranges = self.select(account, units)?;
        let reference = AuthorizationRef {
            party: *party,
            authorization: auth.id.clone(),
            version: auth.version,
        };
        let registry = self.require_open()?;
        // Units that arrived over the link already covered by this version: record what the
        // authorization allows here, and change nothing else (their first transfer happened at
        // the sender).
        let mut all_covered = true;
        self.each_block(&ranges, |b| {
            all_covered &= b.labels.authorization.as_ref() == Some(&reference);
            Ok(())
        })?;
        if all_covered && me != reference.party {
            if self.a6_auth.contains_key(&reference) {
                return Err(rej(
                    Code::ALREADY_FIRST_TRANSFERRED,
                    "these units are covered by this authorization already",
                ));
            }
            return self.emit(
                out,
                Event::AuthorizationApplied {
                    authorization: reference,
                    ca: auth.ca,
                    purposes: auth.purposes,
                    parties: auth.parties.clone(),
                },
            );
        }
        let mut foreign_held = false;
        let mut quantity = 0u64;
        self.each_block(&ranges, |b| {
            quantity += b.range.len();
            if b.labels.first_transferred {
                return Err(rej(
                    Code::ALREADY_FIRST_TRANSFERRED,
                    format!(
                        "serials {} {} were first transferred already",
                        b.issuing, b.range
                    ),
                ));
            }
            let v = b.attributes.vintage.year();
            if v < 2021 || v < auth.first_vintage || v > auth.last_vintage {
                return Err(rej(
                    Code::VINTAGE_NOT_AUTHORIZABLE,
                    format!(
                        "vintage {v} is outside {}..{}",
                        auth.first_vintage, auth.last_vintage
                    ),
                ));
            }
            let host = match b
                .attributes
                .project
                .as_ref()
                .and_then(|p| self.project_hosts.get(p))
            {
                Some(&(host, _, eligible)) => {
                    if !eligible {
                        return Err(rej(
                            Code::NOT_ARTICLE6_ELIGIBLE,
                            format!(
                                "project {:?} is outside its host's Article 6.2 list",
                                b.attributes.project
                            ),
                        ));
                    }
                    host
                }
                None => b.issuing.party(),
            };
            if host != *party {
                return Err(rej(
                    Code::PARTY_NOT_AUTHORIZED,
                    format!("only {host} authorizes these units, not {party}"),
                ));
            }
            foreign_held |= registry != b.issuing || me != host;
            Ok(())
        })?;
        if let Some(limit) = auth.quantity {
            let used: u64 = self.a6_applied_quantity(&reference.party, &reference.authorization);
            if used.saturating_add(quantity) > limit {
                return Err(rej(
                    Code::AUTHORIZED_QUANTITY_EXCEEDED,
                    format!("{quantity} more would exceed the authorized {limit} ({used} applied)"),
                ));
            }
        }
        if foreign_held && !auth.parties.contains(&me) {
            return Err(rej(
                Code::PARTY_NOT_AUTHORIZED,
                format!("{party}'s authorization does not name {me}"),
            ));
        }
        if !self.a6_auth.contains_key(&reference) {
            self.emit(
                out,
                Event::AuthorizationApplied {
                    authorization: reference.clone(),
                    ca: auth.ca,
                    purposes: auth.purposes,
                    parties: auth.parties.clone(),
                },
            )?;
        }
        // Held abroad (issued into another party's registry): recording the coverage is the
        // first transfer. OIMP-only with "authorization" as the first transfer: the same.
        let first = foreign_held
            || (auth.purposes.oimp
                && !auth.purposes.ndc
                && auth.first_transfer_oimp == Some(FirstTransferDefinition::Authorization));
        self.emit(
            out,
            Event::LabelsSet {
                ranges,
                labels: Labels {
                    authorization: Some(reference),
                    first_transferred: first,
                    adjustment: if first {
                        AdjustmentStatus::Pending
                    } else {
                        AdjustmentStatus::NotApplicable
                    },
                },
                citation: Some(citation.clone()),
            },
        )
    }

    /// Units now covered by any version of an authorization, in this registry.
    fn a6_applied_quantity(&self, party: &PartyId, id: &DecisionId) -> u64 {
        self.blocks
            .iter()
            .filter(|(_, b)| {
                self.labels
                    .get(b.labels)
                    .authorization
                    .as_ref()
                    .is_some_and(|a| a.party == *party && a.authorization == *id)
            })
            .map(|((_, s), b)| b.end - s + 1)
            .sum()
    }

    /// Units hosted by another party arrive "not yet authorized" (the mechanism's policy) and
    /// cannot be used towards this party's NDC until an authorization covers them.
    fn check_usable_towards_ndc(&self, ranges: &[IssuedRange]) -> R<()> {
        let Some(me) = self.registry.map(|r| r.party()) else {
            return Ok(());
        };
        for r in ranges {
            let mut serial = r.range.start();
            while serial <= r.range.end() {
                let Some(b) = self.block_at(r.issuing, serial) else {
                    break;
                };
                if let Some(p) = &b.attributes.project {
                    if let Some(&(host, crate::jcm::ForeignIssuance::NotYetAuthorized, _)) =
                        self.project_hosts.get(p)
                    {
                        if host != me && b.labels.authorization.is_none() {
                            return Err(rej(
                                Code::UNITS_NOT_AUTHORIZED,
                                format!(
                                    "serials {} {} of project {p} (hosted by {host}) are not yet \
                                     covered by {host}'s authorization",
                                    r.issuing, b.range
                                ),
                            ));
                        }
                    }
                }
                match b.range.end().checked_add(1) {
                    Some(n) => serial = n,
                    None => break,
                }
            }
        }
        Ok(())
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "the fields of the Issue command, passed as they are"
    )]
    fn decide_issue(
        &mut self,
        out: &mut Vec<Event>,
        account: AccountId,
        kind: &UnitKindCode,
        project: &Option<ProjectId>,
        period: &MitigationPeriod,
        vintage: Option<Vintage>,
        quantity: Quantity,
        unit_start: Option<u64>,
        citation: &Option<Citation>,
        business_key: &Option<BusinessKey>,
    ) -> R<()> {
        let registry = self.require_open()?;
        let mut c = Checks::new();
        self.check_to(
            account,
            |k| matches!(k, AccountClass::Holding | AccountClass::PendingIssuance),
            "issuances",
            &mut c,
        );
        let uk = self.unit_kinds.get(kind).copied();
        c.require(uk.is_some(), Code::UNIT_KIND_UNKNOWN, || {
            format!("unit kind {kind} is not defined")
        });
        if let Some(uk) = uk {
            c.require(
                uk.has_project == project.is_some(),
                Code::PROJECT_RULE,
                || {
                    if uk.has_project {
                        format!("unit kind {kind} requires a project")
                    } else {
                        format!("unit kind {kind} has no project")
                    }
                },
            );
        }
        if let Some(k) = business_key {
            c.require(
                !self.business_keys.contains(k),
                Code::BUSINESS_KEY_USED,
                || format!("business key {k} was already used"),
            );
        }
        let q = quantity.get();
        let serial_end = self.next_serial.checked_add(q - 1);
        c.require(serial_end.is_some(), Code::SERIALS_EXHAUSTED, || {
            "serial numbers would overflow".into()
        });
        let first_unit = unit_start.unwrap_or(self.next_serial);
        c.require(
            first_unit >= 1 && first_unit.checked_add(q - 1).is_some(),
            Code::SERIALS_EXHAUSTED,
            || "underlying unit ids would overflow".into(),
        );
        // Vintage parts.
        let mut parts: Vec<(Vintage, u64)> = Vec::new();
        if let Some(uk) = uk {
            match uk.vintage_rule {
                VintageRule::ComplianceYear => match vintage {
                    Some(v) => parts.push((v, q)),
                    None => c.fail(
                        Code::VINTAGE_RULE,
                        format!("unit kind {kind} needs its compliance year as vintage"),
                    ),
                },
                VintageRule::CalendarYear => {
                    let years = period.days_per_year();
                    if years.len() == 1 {
                        let y = Vintage::new(years[0].0 as i64)?;
                        if vintage.is_some_and(|v| v != y) {
                            c.fail(
                                Code::VINTAGE_RULE,
                                format!("vintage must be {} for this period", y.year()),
                            );
                        }
                        parts.push((y, q));
                    } else if vintage.is_some() || self.straddle == StraddlePolicy::Refuse {
                        c.fail(
                            Code::VINTAGE_RULE,
                            "the mitigation period straddles calendar years: issue each year \
                             separately, or let the straddle policy split it"
                                .to_string(),
                        );
                    } else {
                        for (y, share) in period.apportion(q) {
                            parts.push((Vintage::new(y as i64)?, share));
                        }
                    }
                }
            }
        }
        c.finish()?;
        let mut unit = first_unit;
        for (i, (v, n)) in parts.into_iter().enumerate() {
            let start = self.next_serial;
            let range = SerialRange::new(start, start + n - 1)?;
            self.emit(
                out,
                Event::Issued {
                    account,
                    attributes: UnitAttributes {
                        issuing: registry,
                        kind: kind.clone(),
                        project: project.clone(),
                        period: *period,
                        vintage: v,
                    },
                    range,
                    unit_start: unit,
                    citation: citation.clone(),
                    business_key: if i == 0 { business_key.clone() } else { None },
                },
            )?;
            unit += n;
        }
        Ok(())
    }

    fn decide_correct(
        &mut self,
        out: &mut Vec<Event>,
        target: &CitedEntry,
        note: Option<PersonalRef>,
    ) -> R<()> {
        if self.corrected.contains(&target.seq) {
            return Err(rej(
                Code::ALREADY_CORRECTED,
                format!("entry {} was already corrected", target.seq),
            ));
        }
        let issued: Vec<(AccountId, IssuedRange)> = target
            .events
            .iter()
            .filter_map(|e| match e {
                Event::Issued {
                    account,
                    attributes,
                    range,
                    ..
                } => Some((
                    *account,
                    IssuedRange {
                        issuing: attributes.issuing,
                        range: *range,
                    },
                )),
                _ => None,
            })
            .collect();
        let reversal: Vec<Event> = if !issued.is_empty() && issued.len() == target.events.len() {
            let mut by_account: BTreeMap<AccountId, Vec<IssuedRange>> = BTreeMap::new();
            for (a, r) in issued {
                by_account.entry(a).or_default().push(r);
            }
            by_account
                .into_iter()
                .map(|(account, ranges)| Event::IssuanceVoided { account, ranges })
                .collect()
        } else if let [Event::Transferred { from, to, ranges }] = target.events.as_slice() {
            vec![Event::Transferred {
                from: *to,
                to: *from,
                ranges: ranges.clone(),
            }]
        } else {
            return Err(rej(
                Code::CORRECTION_TARGET_INVALID,
                format!("entry {} is not an issuance or a transfer", target.seq),
            ));
        };
        for ev in &reversal {
            let (owner, ranges) = match ev {
                Event::IssuanceVoided { account, ranges } => (*account, ranges),
                Event::Transferred { from, ranges, .. } => (*from, ranges),
                _ => continue,
            };
            for r in ranges {
                let still = self
                    .blocks_of(r)
                    .is_some_and(|bs| bs.iter().all(|(_, b)| b.owner == owner && b.is_free()));
                if !still {
                    return Err(rej(
                        Code::CORRECTION_UNITS_MOVED,
                        format!(
                            "serials {} {} are no longer free in account {}",
                            r.issuing, r.range, owner.0
                        ),
                    ));
                }
            }
        }
        self.emit(
            out,
            Event::Corrected {
                seq: target.seq,
                hash: target.hash,
                note,
            },
        )?;
        for ev in reversal {
            self.emit(out, ev)?;
        }
        Ok(())
    }

    /// Blocks overlapping a range without carving (read-only); `None` if any serial is absent.
    pub(crate) fn blocks_of(&self, r: &IssuedRange) -> Option<Vec<(u64, Block)>> {
        let mut out = Vec::new();
        let first = self
            .blocks
            .containing((r.issuing, r.range.start()))
            .map(|((_, s), b)| (s, b))?;
        let mut expect = first.1.end.checked_add(1);
        out.push(first);
        while let Some(e) = expect.filter(|&e| e <= r.range.end()) {
            let b = self.blocks.get(&(r.issuing, e))?;
            expect = b.end.checked_add(1);
            out.push((e, b));
        }
        Some(out)
    }

    // ----- fold -----------------------------------------------------------------------------

    /// Applies one event, re-checking that it is legal in the current state. A journal entry
    /// whose events fail here is illegal, however well it is hashed.
    pub fn fold(&mut self, ev: &Event) -> R<()> {
        match ev {
            Event::RegistryOpened { registry, straddle } => {
                if self.registry.is_some() {
                    return Err(rej(Code::CHAIN_ALREADY_OPENED, "registry already open"));
                }
                self.log(Undo::Registry(self.registry, self.straddle));
                self.registry = Some(*registry);
                self.straddle = *straddle;
                Ok(())
            }
            Event::StraddlePolicySet(p) => {
                self.log(Undo::Registry(self.registry, self.straddle));
                self.straddle = *p;
                Ok(())
            }
            Event::UnitKindDefined {
                code,
                has_project,
                vintage_rule,
            } => {
                if self.unit_kinds.contains_key(code) {
                    return Err(rej(
                        Code::ALREADY_EXISTS,
                        format!("unit kind {code} exists"),
                    ));
                }
                self.unit_kinds.insert(
                    code.clone(),
                    UnitKind {
                        has_project: *has_project,
                        vintage_rule: *vintage_rule,
                    },
                );
                self.log(Undo::UnitKind(code.clone(), None));
                Ok(())
            }
            Event::AccountKindDefined { code, class } => {
                if self.account_kinds.contains_key(code) {
                    return Err(rej(
                        Code::ALREADY_EXISTS,
                        format!("account kind {code} exists"),
                    ));
                }
                self.account_kinds.insert(code.clone(), *class);
                self.log(Undo::AccountKind(code.clone(), None));
                Ok(())
            }
            Event::CurrencyDefined { code, minor_units } => {
                if self.currencies.contains_key(code) {
                    return Err(rej(Code::ALREADY_EXISTS, format!("currency {code} exists")));
                }
                self.currencies.insert(*code, *minor_units);
                self.log(Undo::Currency(*code, None));
                Ok(())
            }
            Event::HolderRegistered { holder, kind, name } => {
                if self.holders.contains_key(holder) {
                    return Err(rej(
                        Code::ALREADY_EXISTS,
                        format!("holder {} exists", holder.0),
                    ));
                }
                self.holders.insert(
                    *holder,
                    Holder {
                        kind: kind.clone(),
                        name: *name,
                    },
                );
                self.log(Undo::Holder(*holder, None));
                Ok(())
            }
            Event::AccountOpened {
                account,
                holder,
                kind,
            } => {
                if self.accounts.contains_key(account) {
                    return Err(rej(
                        Code::ALREADY_EXISTS,
                        format!("account {} exists", account.0),
                    ));
                }
                if !self.holders.contains_key(holder) {
                    return Err(rej(
                        Code::HOLDER_UNKNOWN,
                        format!("holder {} does not exist", holder.0),
                    ));
                }
                let class = *self.account_kinds.get(kind).ok_or_else(|| {
                    rej(
                        Code::ACCOUNT_KIND_UNKNOWN,
                        format!("account kind {kind} is not defined"),
                    )
                })?;
                self.set_account(
                    *account,
                    Account {
                        holder: *holder,
                        kind: kind.clone(),
                        class,
                        status: AccountStatus::Open,
                    },
                );
                Ok(())
            }
            Event::AccountStatusSet { account, status } => {
                let a = self.accounts.get(account).cloned().ok_or_else(|| {
                    rej(
                        Code::FROM_ACCOUNT_UNKNOWN,
                        format!("account {} does not exist", account.0),
                    )
                })?;
                if a.status == AccountStatus::Closed {
                    return Err(rej(
                        Code::FROM_ACCOUNT_CLOSED,
                        format!("account {} is closed for good", account.0),
                    ));
                }
                if *status == AccountStatus::Closed {
                    let has_units = self.blocks.of(*account).is_some_and(|s| !s.is_empty());
                    let has_cash = self
                        .cash
                        .range((*account, CurrencyCode::parse("AAA")?)..)
                        .take_while(|((a, _), _)| a == account)
                        .any(|(_, b)| b.available > 0 || b.held > 0);
                    if (has_units && !a.class.is_terminal()) || has_cash {
                        return Err(rej(
                            Code::ACCOUNT_NOT_EMPTY,
                            format!("account {} still holds units or cash", account.0),
                        ));
                    }
                }
                self.set_account(
                    *account,
                    Account {
                        status: *status,
                        ..a
                    },
                );
                Ok(())
            }
            Event::Issued {
                account,
                attributes,
                range,
                unit_start,
                citation: _,
                business_key,
            } => {
                let registry = self.require_open()?;
                let mut c = Checks::new();
                self.check_to(
                    *account,
                    |k| matches!(k, AccountClass::Holding | AccountClass::PendingIssuance),
                    "issuances",
                    &mut c,
                );
                c.finish()?;
                if attributes.issuing != registry || range.start() != self.next_serial {
                    return Err(rej(
                        Code::RANGE_INVALID,
                        format!(
                            "issuance must use this registry's next serial {}",
                            self.next_serial
                        ),
                    ));
                }
                let uk = self.unit_kinds.get(&attributes.kind).ok_or_else(|| {
                    rej(
                        Code::UNIT_KIND_UNKNOWN,
                        format!("unit kind {} is not defined", attributes.kind),
                    )
                })?;
                if uk.has_project != attributes.project.is_some() {
                    return Err(rej(Code::PROJECT_RULE, "project rule of the unit kind"));
                }
                if unit_start.checked_add(range.len() - 1).is_none() || *unit_start == 0 {
                    return Err(rej(Code::SERIALS_EXHAUSTED, "underlying unit ids overflow"));
                }
                if let Some(k) = business_key {
                    if !self.business_keys.insert(k.clone()) {
                        return Err(rej(
                            Code::BUSINESS_KEY_USED,
                            format!("business key {k} was already used"),
                        ));
                    }
                    self.log(Undo::BusinessKey(k.clone()));
                }
                self.log(Undo::NextSerial(self.next_serial));
                self.next_serial = range
                    .end()
                    .checked_add(1)
                    .ok_or_else(|| rej(Code::SERIALS_EXHAUSTED, "serial numbers would overflow"))?;
                let attrs = self.attrs.intern(attributes);
                let labels = self.labels.intern(&Labels::default());
                self.put_block(
                    (registry, range.start()),
                    Some(Block {
                        end: range.end(),
                        unit_start: *unit_start,
                        attrs,
                        labels,
                        owner: *account,
                        hold: 0,
                        freezes: 0,
                    }),
                );
                self.merge_around(&IssuedRange {
                    issuing: registry,
                    range: *range,
                });
                Ok(())
            }
            Event::Transferred { from, to, ranges } => {
                if !self.checked_by_decide {
                    self.check_pair(*from, *to, AccountClass::can_receive_transfer, "transfers")?;
                }
                self.move_units(*from, *to, ranges)
            }
            Event::Retired {
                from, to, ranges, ..
            } => {
                self.check_pair(*from, *to, |c| c == AccountClass::Retirement, "retirements")?;
                self.move_units(*from, *to, ranges)
            }
            Event::Cancelled {
                from,
                to,
                ranges,
                kind,
                ..
            } => {
                let want = cancellation_class(*kind);
                self.check_pair(*from, *to, |c| c == want, "this cancellation")?;
                self.move_units(*from, *to, ranges)
            }
            Event::LabelsSet { ranges, labels, .. } => {
                let l = self.labels.intern(labels);
                self.for_blocks(ranges, |_, _| Ok(()), move |_, b| b.labels = l)
            }
            Event::HoldPlaced {
                hold,
                kind,
                account,
                asset,
                expires_at,
            } => self.fold_hold_placed(hold, *kind, *account, asset, *expires_at),
            Event::HoldReleased { hold, asset, .. } => self.fold_hold_out(hold, asset, None),
            Event::HoldPosted { hold, to, asset } => {
                let mut c = Checks::new();
                self.check_to(*to, AccountClass::can_receive_transfer, "transfers", &mut c);
                c.finish()?;
                self.fold_hold_out(hold, asset, Some(*to))
            }
            Event::CashDeposited {
                account,
                currency,
                amount,
            } => {
                let mut c = Checks::new();
                self.check_to(*account, AccountClass::can_receive_transfer, "cash", &mut c);
                c.finish()?;
                self.check_currency(*currency, *amount)?;
                let mut b = self.cash(*account, *currency);
                b.available = b
                    .available
                    .checked_add(amount.0)
                    .ok_or_else(|| rej(Code::AMOUNT_INVALID, "cash balance would overflow"))?;
                self.set_cash((*account, *currency), b);
                Ok(())
            }
            Event::CashWithdrawn {
                account,
                currency,
                amount,
            } => {
                let mut c = Checks::new();
                self.check_from(*account, &mut c);
                c.finish()?;
                self.check_currency(*currency, *amount)?;
                self.debit_cash(*account, *currency, *amount)
            }
            Event::CashTransferred {
                from,
                to,
                currency,
                amount,
            } => {
                self.check_pair(*from, *to, AccountClass::can_receive_transfer, "cash")?;
                self.check_currency(*currency, *amount)?;
                self.debit_cash(*from, *currency, *amount)?;
                self.credit_cash(*to, *currency, *amount)
            }
            Event::Corrected { seq, .. } => {
                if !self.corrected.insert(*seq) {
                    return Err(rej(
                        Code::ALREADY_CORRECTED,
                        format!("entry {seq} was already corrected"),
                    ));
                }
                self.log(Undo::Corrected(*seq));
                Ok(())
            }
            Event::IssuanceVoided { account, ranges } => {
                let owner = *account;
                self.for_blocks(
                    ranges,
                    |_, b| {
                        if b.owner == owner && b.is_free() {
                            Ok(())
                        } else {
                            Err(rej(
                                Code::CORRECTION_UNITS_MOVED,
                                "voided serials are not free in the issuance account",
                            ))
                        }
                    },
                    |_, _| {},
                )?;
                for r in ranges {
                    self.carve(r); // for_blocks merged neighbours back: void only `r`
                    if let Some(bs) = self.blocks_of(r) {
                        for (s, _) in bs {
                            self.put_block((r.issuing, s), None);
                        }
                    }
                }
                Ok(())
            }
            Event::TransferProposed { .. }
            | Event::TransferDecided(_)
            | Event::TransferSettled { .. }
            | Event::InboundAccepted { .. }
            | Event::InboundRejected { .. }
            | Event::InboundCommitted { .. }
            | Event::InboundAborted { .. }
            | Event::LinkAlarm { .. }
            | Event::SuspenseAccountSet { .. } => self.fold_link(ev),
            Event::ProjectHostRecorded {
                project,
                host,
                foreign,
                eligible,
            } => {
                if self.project_hosts.contains_key(project) {
                    return Err(rej(
                        Code::ALREADY_EXISTS,
                        format!("project {project}'s host is already recorded"),
                    ));
                }
                self.project_hosts
                    .insert(project.clone(), (*host, *foreign, *eligible));
                self.log(Undo::ProjectHost(project.clone()));
                Ok(())
            }
            Event::AuthorizationApplied {
                authorization,
                ca,
                purposes,
                parties,
            } => {
                if self.a6_auth.contains_key(authorization) {
                    return Err(rej(
                        Code::ALREADY_EXISTS,
                        "authorization version already applied",
                    ));
                }
                self.a6_auth.insert(
                    authorization.clone(),
                    AppliedAuthorization {
                        ca: *ca,
                        purposes: *purposes,
                        parties: parties.clone(),
                    },
                );
                self.log(Undo::A6Auth(authorization.clone()));
                Ok(())
            }
            Event::UseYearRecorded { .. } => Ok(()),
            Event::Surrendered {
                from, to, ranges, ..
            } => {
                self.check_pair(*from, *to, |c| c == AccountClass::Surrender, "surrenders")?;
                self.move_units(*from, *to, ranges)
            }
            Event::CertificatesExpired { from, to, ranges } => {
                let mut c = Checks::new();
                self.check_to(*to, |k| k == AccountClass::Expired, "expiry", &mut c);
                c.finish()?;
                self.move_units(*from, *to, ranges)
            }
            Event::CertificateValiditySet { years } => {
                self.log(Undo::CertificateValidity(self.certificate_validity));
                self.certificate_validity = *years;
                Ok(())
            }
            Event::MechanismOpened { .. }
            | Event::PartyAuthorityOpened { .. }
            | Event::DecisionRecorded { .. }
            | Event::A6(_)
            | Event::Ccts(_)
            | Event::Jcm(_) => Err(rej(
                Code::COMMAND_NOT_FOR_CHAIN,
                "decision events do not belong on a registry chain",
            )),
        }
    }

    fn check_currency(&self, currency: CurrencyCode, amount: Money) -> R<()> {
        let mut c = Checks::new();
        c.require(
            self.currencies.contains_key(&currency),
            Code::CURRENCY_UNKNOWN,
            || format!("currency {currency} is not defined"),
        );
        c.require(amount.0 > 0, Code::AMOUNT_INVALID, || {
            "amount must be positive".into()
        });
        c.finish()
    }

    fn debit_cash(&mut self, account: AccountId, currency: CurrencyCode, amount: Money) -> R<()> {
        let mut b = self.cash(account, currency);
        b.available = b.available.checked_sub(amount.0).ok_or_else(|| {
            rej(
                Code::CASH_INSUFFICIENT,
                format!(
                    "account {} has {} {currency} available, {} needed",
                    account.0, b.available, amount.0
                ),
            )
        })?;
        self.set_cash((account, currency), b);
        Ok(())
    }

    fn credit_cash(&mut self, account: AccountId, currency: CurrencyCode, amount: Money) -> R<()> {
        let mut b = self.cash(account, currency);
        b.available = b
            .available
            .checked_add(amount.0)
            .ok_or_else(|| rej(Code::AMOUNT_INVALID, "cash balance would overflow"))?;
        self.set_cash((account, currency), b);
        Ok(())
    }

    pub(crate) fn fold_hold_placed(
        &mut self,
        hold: &HoldId,
        kind: HoldKind,
        account: AccountId,
        asset: &HeldAsset,
        expires_at: Option<Timestamp>,
    ) -> R<()> {
        if self.hold_names.find(&Some(hold.clone())).is_some() {
            return Err(rej(
                Code::HOLD_ID_EXISTS,
                format!("hold {hold} exists or existed"),
            ));
        }
        let mut c = Checks::new();
        self.check_from(account, &mut c);
        c.finish()?;
        // A hold id is used once, forever; but a refused placement must not burn it.
        self.log(Undo::HoldNamesLen(self.hold_names.len()));
        let ix = self.hold_names.intern(&Some(hold.clone()));
        let mut h = Hold {
            kind,
            account,
            expires_at,
            units: RangeSet::default(),
            cash: None,
            ix,
        };
        match asset {
            HeldAsset::Units(ranges) => {
                let transferring = kind.is_transferring();
                self.for_blocks(
                    ranges,
                    |s, b| {
                        if b.owner != account {
                            Err(s.not_held(b, account))
                        } else if transferring && b.hold != 0 {
                            Err(rej(
                                Code::UNITS_HELD,
                                "serials are reserved by another hold",
                            ))
                        } else if transferring && b.freezes != 0 {
                            Err(rej(Code::UNITS_FROZEN, "serials are frozen"))
                        } else {
                            Ok(())
                        }
                    },
                    |s, b| {
                        if transferring {
                            b.hold = ix;
                        } else {
                            let mut set = s.freeze_sets.get(b.freezes).clone();
                            set.push(ix);
                            set.sort_unstable();
                            b.freezes = s.freeze_sets.intern(&set);
                        }
                    },
                )?;
                for r in ranges {
                    h.units.insert(r);
                }
            }
            HeldAsset::Cash { currency, amount } => {
                self.check_currency(*currency, *amount)?;
                self.debit_cash(account, *currency, *amount)?;
                let mut b = self.cash(account, *currency);
                b.held = b
                    .held
                    .checked_add(amount.0)
                    .ok_or_else(|| rej(Code::AMOUNT_INVALID, "held cash would overflow"))?;
                self.set_cash((account, *currency), b);
                h.cash = Some((*currency, *amount));
            }
        }
        self.set_hold(hold.clone(), Some(h));
        Ok(())
    }

    /// Releases (`to` = None) or posts (`to` = Some) part of a hold.
    pub(crate) fn fold_hold_out(
        &mut self,
        id: &HoldId,
        asset: &HeldAsset,
        to: Option<AccountId>,
    ) -> R<()> {
        let mut h = self.hold(id)?.clone();
        let ix = h.ix;
        match asset {
            HeldAsset::Units(ranges) => {
                for r in ranges {
                    if !h.units.remove(r) {
                        return Err(rej(
                            Code::HOLD_PART_EXCEEDS,
                            format!("serials {} {} are not under hold {id}", r.issuing, r.range),
                        ));
                    }
                }
                let transferring = h.kind.is_transferring();
                self.for_blocks(
                    ranges,
                    |s, b| {
                        if to.is_some() && b.freezes != 0 {
                            return Err(rej(Code::UNITS_FROZEN, "posted serials are frozen"));
                        }
                        let ok = if transferring {
                            b.hold == ix
                        } else {
                            s.freeze_sets.get(b.freezes).contains(&ix)
                        };
                        if ok {
                            Ok(())
                        } else {
                            Err(rej(
                                Code::HOLD_PART_EXCEEDS,
                                "serials are not under this hold",
                            ))
                        }
                    },
                    |s, b| {
                        if transferring {
                            b.hold = 0;
                        } else {
                            let set: Vec<u32> = s
                                .freeze_sets
                                .get(b.freezes)
                                .iter()
                                .copied()
                                .filter(|&x| x != ix)
                                .collect();
                            b.freezes = s.freeze_sets.intern(&set);
                        }
                        if let Some(t) = to {
                            b.owner = t;
                        }
                    },
                )?;
            }
            HeldAsset::Cash { currency, amount } => {
                let Some((cur, held)) = h.cash else {
                    return Err(rej(
                        Code::HOLD_PART_EXCEEDS,
                        format!("hold {id} holds no cash"),
                    ));
                };
                if cur != *currency || amount.0 > held.0 || amount.0 == 0 {
                    return Err(rej(
                        Code::HOLD_PART_EXCEEDS,
                        format!("hold {id} holds {} {cur}", held.0),
                    ));
                }
                let mut b = self.cash(h.account, cur);
                b.held = b
                    .held
                    .checked_sub(amount.0)
                    .ok_or_else(|| rej(Code::HOLD_PART_EXCEEDS, "held cash is short"))?;
                self.set_cash((h.account, cur), b);
                self.credit_cash(to.unwrap_or(h.account), cur, *amount)?;
                h.cash = (held.0 > amount.0).then_some((cur, Money(held.0 - amount.0)));
            }
        }
        if h.units.is_empty() && h.cash.is_none() {
            self.set_hold(id.clone(), None);
        } else {
            self.set_hold(id.clone(), Some(h));
        }
        Ok(())
    }

    // ----- hashing --------------------------------------------------------------------------

    /// SHA-256 over the canonical encoding of the whole state, independent of interning order
    /// and of the history that produced it.
    pub fn state_hash(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"tanso-registry-state/1\0");
        let mut e = Enc::new();
        e.opt(&self.registry, |e, r| e.registry(r));
        e.u8(straddle_tag(self.straddle));
        e.u64(self.next_serial);
        e.len(self.unit_kinds.len());
        for (k, v) in &self.unit_kinds {
            e.str(k.as_str());
            e.bool(v.has_project);
            e.u8(v.vintage_rule as u8);
        }
        e.len(self.account_kinds.len());
        for (k, v) in &self.account_kinds {
            e.str(k.as_str());
            e.u8(class_tag(*v));
        }
        e.len(self.currencies.len());
        for (k, v) in &self.currencies {
            e.buf.extend_from_slice(k.as_str().as_bytes());
            e.u8(*v);
        }
        e.len(self.holders.len());
        for (k, v) in &self.holders {
            e.u64(k.0);
            e.str(v.kind.as_str());
            e.bytes32(&v.name.0);
        }
        let accounts: BTreeMap<_, _> = self.accounts.iter().collect();
        e.len(accounts.len());
        for (k, v) in accounts {
            e.u64(k.0);
            e.u64(v.holder.0);
            e.str(v.kind.as_str());
            e.u8(v.status as u8);
        }
        h.update(&e.buf);
        e.buf.clear();
        e.len(self.blocks.len());
        for ((i, s), b) in self.blocks.iter() {
            e.registry(&i);
            e.u64(s);
            e.u64(b.end);
            e.u64(b.unit_start);
            e.attributes(self.attrs.get(b.attrs));
            e.labels(self.labels.get(b.labels));
            e.u64(b.owner.0);
            e.opt(self.hold_names.get(b.hold), |e, n| e.str(n.as_str()));
            let mut fr: Vec<&str> = self
                .freeze_sets
                .get(b.freezes)
                .iter()
                .filter_map(|&x| self.hold_names.get(x).as_ref().map(|n| n.as_str()))
                .collect();
            fr.sort_unstable();
            e.len(fr.len());
            for f in fr {
                e.str(f);
            }
            if e.buf.len() > 1 << 16 {
                h.update(&e.buf);
                e.buf.clear();
            }
        }
        e.len(self.holds.len());
        for (k, v) in &self.holds {
            e.str(k.as_str());
            e.u8(hold_kind_tag(v.kind));
            e.u64(v.account.0);
            e.opt(&v.expires_at, |e, t| e.i64(t.0));
            e.issued_ranges(&v.units.ranges());
            e.opt(&v.cash, |e, (c, m)| {
                e.buf.extend_from_slice(c.as_str().as_bytes());
                e.u64(m.0);
            });
        }
        e.len(self.cash.len());
        for ((a, c), b) in &self.cash {
            e.u64(a.0);
            e.buf.extend_from_slice(c.as_str().as_bytes());
            e.u64(b.available);
            e.u64(b.held);
        }
        e.len(self.business_keys.len());
        for k in &self.business_keys {
            e.str(k.as_str());
        }
        e.len(self.corrected.len());
        for s in &self.corrected {
            e.u64(*s);
        }
        self.link.encode_state(&mut e);
        e.len(self.project_hosts.len());
        for (p, (host, foreign, eligible)) in &self.project_hosts {
            e.str(p.as_str());
            e.party(host);
            e.u8(*foreign as u8);
            e.bool(*eligible);
        }
        e.u16(self.certificate_validity);
        e.len(self.a6_auth.len());
        for (r, a) in &self.a6_auth {
            e.party(&r.party);
            e.str(r.authorization.as_str());
            e.u32(r.version);
            e.u16(a.ca.number());
            e.bool(a.purposes.ndc);
            e.bool(a.purposes.oimp);
            e.len(a.parties.len());
            for p in &a.parties {
                e.party(p);
            }
        }
        h.update(&e.buf);
        h.finalize().into()
    }

    /// Checks the internal invariants (used by tests and `verify`): blocks disjoint and
    /// maximally merged, the account index equal to the blocks, holds equal to the blocks
    /// that name them. Returns a description of the first violation.
    pub fn check_invariants(&self) -> Result<(), String> {
        self.blocks.check_order()?;
        let mut prev: Option<((RegistryId, u64), Block)> = None;
        let mut index: HashMap<AccountId, BTreeSet<(u32, u32, u64)>> = HashMap::new();
        let mut held: BTreeMap<u32, RangeSet> = BTreeMap::new();
        for ((i, s), b) in self.blocks.iter() {
            if b.end < s {
                return Err(format!("block {i} {s} ends before it starts"));
            }
            if let Some(((pi, ps), pb)) = prev {
                if pi == i && pb.end >= s {
                    return Err(format!("blocks {i} {ps} and {s} overlap"));
                }
                if pi == i && pb.end + 1 == s && Self::mergeable(&pb, ps, &b) {
                    return Err(format!("blocks {i} {ps} and {s} should be merged"));
                }
            }
            index
                .entry(b.owner)
                .or_default()
                .insert((b.attrs, b.labels, s));
            let r = IssuedRange {
                issuing: i,
                range: SerialRange::new(s, b.end).map_err(|c| c.to_string())?,
            };
            if b.hold != 0 {
                held.entry(b.hold).or_default().insert(&r);
            }
            for &f in self.freeze_sets.get(b.freezes) {
                held.entry(f).or_default().insert(&r);
            }
            prev = Some(((i, s), b));
        }
        for (a, set) in self.blocks.owners() {
            let keys: BTreeSet<(u32, u32, u64)> = set
                .ascending()
                .map(|(n, o)| {
                    let (at, l) = self.blocks.pair(n);
                    (at, l, o.start)
                })
                .collect();
            if keys.len() != set.len() || !set.well_ordered() {
                return Err(format!("account index of {} is not strictly ordered", a.0));
            }
            if index.get(a).map_or(!keys.is_empty(), |s| *s != keys) {
                return Err(format!("account index of {} disagrees with blocks", a.0));
            }
            for (n, o) in set.ascending() {
                let ((at, l), s) = (self.blocks.pair(n), o.start);
                let b = self.blocks.at(o.slot());
                let issuing = self.attrs.get(at).issuing;
                if b.owner != *a
                    || (b.attrs, b.labels) != (at, l)
                    || self.blocks.get(&(issuing, s)) != Some(b)
                {
                    return Err(format!(
                        "account index of {} names a slot that holds another block",
                        a.0
                    ));
                }
                if (self.blocks.end_of(o), o.free()) != (b.end, b.is_free()) {
                    return Err(format!(
                        "account index of {} has a stale end or hold flag for serial {s}",
                        a.0
                    ));
                }
            }
        }
        if self.blocks.owners().map(|(_, s)| s.len()).sum::<usize>() != self.blocks.len() {
            return Err("the account index and the serial order count different blocks".into());
        }
        for (id, h) in &self.holds {
            let from_blocks = held.remove(&h.ix).unwrap_or_default();
            if from_blocks.ranges() != h.units.ranges() {
                return Err(format!("hold {id} disagrees with the blocks it names"));
            }
            if h.units.is_empty() && h.cash.is_none() {
                return Err(format!("hold {id} is empty but kept"));
            }
        }
        if let Some((ix, _)) = held.into_iter().next() {
            return Err(format!("blocks name hold index {ix}, which does not exist"));
        }
        Ok(())
    }
}

fn set_map<K: Eq + Hash, V, H: std::hash::BuildHasher>(
    m: &mut HashMap<K, V, H>,
    k: K,
    v: Option<V>,
) {
    match v {
        Some(v) => {
            m.insert(k, v);
        }
        None => {
            m.remove(&k);
        }
    }
}

fn set_btree<K: Ord, V>(m: &mut BTreeMap<K, V>, k: K, v: Option<V>) {
    match v {
        Some(v) => {
            m.insert(k, v);
        }
        None => {
            m.remove(&k);
        }
    }
}

fn unreachable_range() -> SerialRange {
    // Blocks always satisfy start <= end (checked by `check_invariants`).
    SerialRange::new(1, 1).unwrap_or_else(|_| unreachable!())
}

fn cancellation_class(kind: CancellationKind) -> AccountClass {
    match kind {
        CancellationKind::Voluntary => AccountClass::VoluntaryCancellation,
        CancellationKind::Omge => AccountClass::OmgeCancellation,
    }
}

fn leg_allowed(c: &Command) -> bool {
    matches!(
        c,
        Command::Transfer { .. }
            | Command::Retire { .. }
            | Command::Cancel { .. }
            | Command::PlaceHold { .. }
            | Command::ReleaseHold { .. }
            | Command::PostHold { .. }
            | Command::DepositCash { .. }
            | Command::WithdrawCash { .. }
            | Command::TransferCash { .. }
            | Command::SetLabels { .. }
    )
}

fn full_asset(h: &Hold) -> HeldAsset {
    match h.cash {
        Some((currency, amount)) => HeldAsset::Cash { currency, amount },
        None => HeldAsset::Units(h.units.ranges()),
    }
}

fn hold_part(h: &Hold, id: &HoldId, part: &HoldPart) -> R<HeldAsset> {
    match part {
        HoldPart::All => Ok(full_asset(h)),
        HoldPart::Ranges(rs) => {
            if h.cash.is_some() || rs.is_empty() || !rs.iter().all(|r| h.units.covers(r)) {
                return Err(rej(
                    Code::HOLD_PART_EXCEEDS,
                    format!("the ranges named are not under hold {id}"),
                ));
            }
            Ok(HeldAsset::Units(rs.clone()))
        }
        HoldPart::Cash(m) => match h.cash {
            Some((currency, held)) if m.0 > 0 && m.0 <= held.0 => Ok(HeldAsset::Cash {
                currency,
                amount: *m,
            }),
            _ => Err(rej(
                Code::HOLD_PART_EXCEEDS,
                format!("hold {id} does not hold that much cash"),
            )),
        },
    }
}

/// The reference data every registry starts with (all of it data, all of it journaled):
/// account kinds, unit kinds and currencies.
pub fn standard_definitions() -> Vec<Event> {
    let ak = |code: &str, class| Event::AccountKindDefined {
        code: AccountKindCode::parse(code).unwrap_or_else(|_| unreachable!()),
        class,
    };
    let uk = |code: &str, has_project, vintage_rule| Event::UnitKindDefined {
        code: UnitKindCode::parse(code).unwrap_or_else(|_| unreachable!()),
        has_project,
        vintage_rule,
    };
    let cur = |code: &str, minor_units| Event::CurrencyDefined {
        code: CurrencyCode::parse(code).unwrap_or_else(|_| unreachable!()),
        minor_units,
    };
    vec![
        ak("party-holding", AccountClass::Holding),
        ak("entity-holding", AccountClass::Holding),
        ak("pending-issuance", AccountClass::PendingIssuance),
        ak("suspense", AccountClass::Suspense),
        ak("retirement", AccountClass::Retirement),
        ak(
            "voluntary-cancellation",
            AccountClass::VoluntaryCancellation,
        ),
        ak("omge-cancellation", AccountClass::OmgeCancellation),
        ak("surrender", AccountClass::Surrender),
        ak("expired", AccountClass::Expired),
        uk("JCM", true, VintageRule::CalendarYear),
        uk("ITMO", true, VintageRule::CalendarYear),
        uk("A64ER", true, VintageRule::CalendarYear),
        uk("CCC", true, VintageRule::ComplianceYear),
        cur("INR", 2),
        cur("JPY", 0),
    ]
}
