//! Resources in a `static` (const construction), and what a configuration
//! costs in memory.

use braid::link::{Link, LinkConfig};
use braid::Config;
use braid_embedded::{Direct, Resources, Runner, Stack, Stream};
use core::mem::size_of;
use static_cell::ConstStaticCell;

static RESOURCES: ConstStaticCell<Resources<4, 512, 512>> = ConstStaticCell::new(Resources::new());

#[test]
fn resources_live_in_a_static() {
    let resources: &'static mut Resources<4, 512, 512> = RESOURCES.take();
    let (stack, _runner) = braid_embedded::new(resources, Config::server());
    assert_eq!(stack.generation(), 0);
    assert_eq!(stack.session_state(), None);
    // Any `const` context works: here a local built at compile time.
    let mut small = const { Resources::<2, 256, 256, 160>::new() };
    let link = Link::<136, 1>::new(LinkConfig::fail_stop(7));
    let (stack, _runner) = braid_embedded::new_linked(&mut small, Config::client(), link);
    assert!(stack.try_open().is_err());
}

#[test]
fn memory_a_configuration_costs() {
    let rows = [
        ("Resources<4, 512, 512>", size_of::<Resources<4, 512, 512>>()),
        ("Resources<2, 256, 256>", size_of::<Resources<2, 256, 256>>()),
        (
            "Session<ArrayStorage<4, 512, 512>> (in Resources)",
            size_of::<braid_embedded::Engine<4, 512, 512>>(),
        ),
        ("Link<136, 4>", size_of::<Link<136, 4>>()),
        ("Link<136, 1>", size_of::<Link<136, 1>>()),
        ("Runner<Link<136, 4>, 4, 512, 512>", size_of::<Runner<'static, Link<136, 4>, 4, 512, 512>>()),
        ("Runner<Direct, 4, 512, 512>", size_of::<Runner<'static, Direct, 4, 512, 512>>()),
        ("Stack", size_of::<Stack<'static, 4, 512, 512>>()),
        ("Stream", size_of::<Stream<'static, 4, 512, 512>>()),
    ];
    for (what, bytes) in rows {
        println!("| `{what}` | {bytes} |");
    }
    // The stream buffers dominate: 4 × (512 + 512) plus two 256-byte I/O
    // buffers; the session's state and the streams' come on top (about
    // 2 KiB on a 64-bit host, less on a 32-bit target).
    let r = size_of::<Resources<4, 512, 512>>();
    assert!((4 * 1024 + 512..=4 * 1024 + 512 + 2048).contains(&r), "{r}");
    assert!(size_of::<Link<136, 4>>() <= 136 * 5 + 320);
}
