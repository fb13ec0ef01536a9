//! Helpers shared by the engine's test files.

use tanso_core::*;
use tanso_engine::{system_clock, Engine, Node, NodeConfig, Submission};
use tanso_store::memory::MemoryStore;

/// `open_registry` for `reg` under command id `id`; the content hash stands for the wire form.
pub fn open_registry(id: &str, reg: &str) -> Submission {
    let r = RegistryId::parse(reg).expect("registry id");
    let mut content_hash = [0u8; 32];
    content_hash[..5].copy_from_slice(&r.bytes());
    Submission {
        id: CommandId::parse(id).expect("command id"),
        chain: ChainId::Registry(r),
        actor: Actor::parse("tester").expect("actor"),
        content_hash,
        command: Ok(Command::OpenRegistry {
            registry: r,
            straddle: StraddlePolicy::ProRataDaysRemainderLast,
        }),
        personal: Vec::new(),
        dry_run: false,
    }
}

/// An engine (group commit up to `batch_max`) in front of a node on `store`.
pub fn engine(store: &MemoryStore, batch_max: usize) -> Engine<MemoryStore> {
    Engine::start(
        Node::open(store.clone(), NodeConfig::default()).expect("open node"),
        batch_max,
        system_clock(),
    )
}
