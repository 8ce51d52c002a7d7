//! Kernel layer tests. Real-kernel tests run only inside a throwaway namespace sandbox
//! (`netplan_runtime::kernel::sandbox`): without root they are reported as ignored.
//! Fake-kernel and ruleset tests run everywhere.

mod support;

use std::process::ExitCode;

use libtest_mimic::{Arguments, Trial};
use netplan_runtime::kernel::sandbox::{self, Sandbox};
use support::TestResult;
use support::cases_firewall::*;
use support::cases_links::*;

/// A real-kernel test: name and body.
type Case = (&'static str, fn() -> TestResult);

fn main() -> ExitCode {
    let mut args = Arguments::from_args();
    let everywhere = vec![
        Trial::test("fake::sequence", || sequence_on_fake().map_err(Into::into)),
        Trial::test("firewall::ruleset_shape", || ruleset_shape().map_err(Into::into)),
    ];
    let kernel: Vec<Case> = vec![
        ("real::matches_fake", real_matches_fake),
        ("real::netns_lifecycle", netns_lifecycle),
        ("real::bridge_and_veth", bridge_and_veth),
        ("real::tcp_same_bridge", tcp_same_bridge),
        ("real::firewall_isolation", firewall_isolation),
        ("real::firewall_icc_off", firewall_icc_off),
        ("real::firewall_internal", firewall_internal),
        ("real::firewall_publish", firewall_publish),
        ("real::foreign_links_refused", foreign_links_refused),
        ("real::processes", processes),
    ];
    let inside = match sandbox::enter() {
        Ok(Sandbox::Finished(code)) => return ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Ok(Sandbox::Inside) => true,
        Ok(Sandbox::NotRoot) => {
            eprintln!(
                "note: the real-kernel tests need root (they run in a private namespace sandbox); reporting them as ignored"
            );
            false
        }
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    // The real-kernel tests share one sandbox (and one firewall): run them one at a time.
    args.test_threads = Some(1);
    let mut trials = everywhere;
    for (name, f) in kernel {
        trials.push(Trial::test(name, move || f().map_err(Into::into)).with_ignored_flag(!inside));
    }
    libtest_mimic::run(&args, trials).exit_code()
}
