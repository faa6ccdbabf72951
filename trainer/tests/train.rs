//! Training end to end on the built-in digits, through the library API.

mod common;

use advmix_protocol::{Event, EventLine, Method};
use advmix_trainer::checkpoint;
use advmix_trainer::stop::StopSignal;
use advmix_trainer::train::{self, Outcome, TrainOptions};
use common::{digits, head, small_config, torch_rng};
use tch::Device;

fn options(config: advmix_protocol::RunConfig, run_dir: &std::path::Path) -> TrainOptions {
    TrainOptions { config, run_dir: run_dir.to_owned(), device: Device::Cpu, resume: false, stdout_events: false }
}

fn events(run_dir: &std::path::Path) -> Vec<Event> {
    std::fs::read_to_string(run_dir.join("events.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<EventLine>(l).unwrap().event)
        .collect()
}

/// Every method learns; the adversarial ones buy robustness that ERM lacks.
#[test]
fn every_method_learns_and_adversarial_training_is_robust() {
    let _rng = torch_rng();
    let data = digits();
    let mut robust = std::collections::HashMap::new();
    for method in [Method::Erm, Method::Mixup, Method::PgdAt, Method::Trades, Method::MixupPgd, Method::Aom] {
        let dir = tempfile::tempdir().unwrap();
        let outcome = train::run(&options(small_config(method, 4), dir.path()), &data, &StopSignal::never()).unwrap();
        let Outcome::Finished(f) = outcome else { panic!("{method:?} did not finish") };
        eprintln!("{method:?}: clean {:.3} pgd {:.3}", f.final_clean_acc, f.final_robust_acc);
        assert!(f.final_clean_acc > 0.5, "{method:?} clean accuracy {:.3} is not far above chance (0.1)", f.final_clean_acc);
        robust.insert(method, f.final_robust_acc);

        let ev = events(dir.path());
        assert!(matches!(ev.first(), Some(Event::Started(_))));
        assert_eq!(ev.iter().filter(|e| matches!(e, Event::Epoch(_))).count(), 4);
        assert!(matches!(ev.last(), Some(Event::Finished(_))));
    }
    let erm = robust[&Method::Erm];
    for method in [Method::PgdAt, Method::Aom] {
        assert!(
            robust[&method] > erm + 0.15,
            "{method:?} PGD accuracy {:.3} is not clearly above ERM's {erm:.3}",
            robust[&method]
        );
    }
}

/// A run stopped mid-epoch and resumed ends with the same weights, bit for
/// bit, as one that ran straight through.
#[test]
fn stop_and_resume_matches_an_uninterrupted_run() {
    let _rng = torch_rng();
    let data = head(&digits(), 256); // 4 batches of 64 per epoch
    let mut config = small_config(Method::Aom, 3);
    config.aom.optimize_lambda = true;
    config.samples_every = 1;

    let straight = tempfile::tempdir().unwrap();
    let a = train::run(&options(config.clone(), straight.path()), &data, &StopSignal::never()).unwrap();

    let split = tempfile::tempdir().unwrap();
    let b = train::run(&options(config.clone(), split.path()), &data, &StopSignal::after_batches(6)).unwrap();
    assert_eq!(b, Outcome::Stopped { epoch: 1, batch: 2 });
    assert!(matches!(events(split.path()).last(), Some(Event::Stopped { .. })));
    let resumed = TrainOptions { resume: true, ..options(config, split.path()) };
    let c = train::run(&resumed, &data, &StopSignal::never()).unwrap();

    let (Outcome::Finished(a), Outcome::Finished(c)) = (a, c) else { panic!("both runs finish") };
    assert_eq!(a.final_robust_acc, c.final_robust_acc);
    assert_eq!(a.final_clean_acc, c.final_clean_acc);
    let wa = checkpoint::read(&straight.path().join("checkpoints/last.safetensors")).unwrap().tensors;
    let wc = checkpoint::read(&split.path().join("checkpoints/last.safetensors")).unwrap().tensors;
    assert_eq!(wa.len(), wc.len());
    for (name, t) in &wa {
        assert!(t.equal(&wc[name]), "{name} differs after stop and resume");
    }

    // The epoch records agree too, and no epoch is repeated.
    let epochs = |dir: &std::path::Path| -> Vec<(u32, f64)> {
        events(dir)
            .into_iter()
            .filter_map(|e| match e {
                Event::Epoch(m) => Some((m.epoch, m.test_pgd_acc)),
                _ => None,
            })
            .collect()
    };
    assert_eq!(epochs(straight.path()), epochs(split.path()));
    assert!(split.path().join("samples/epoch-0003.png").exists());
}

#[test]
fn checkpoints_are_announced_with_their_hash() {
    let _rng = torch_rng();
    let data = head(&digits(), 128);
    let mut config = small_config(Method::Erm, 2);
    config.checkpoint_every = 1;
    let dir = tempfile::tempdir().unwrap();
    train::run(&options(config, dir.path()), &data, &StopSignal::never()).unwrap();
    let mut kinds = Vec::new();
    // `last` is rewritten every epoch: the newest announcement of a file
    // describes what is on disk.
    let mut newest = std::collections::HashMap::new();
    for event in events(dir.path()) {
        if let Event::Checkpoint(c) = event {
            kinds.push((c.epoch, c.kind));
            newest.insert(c.file.clone(), c);
        }
    }
    assert_eq!(newest.len(), 4, "last, best and two periodic files: {:?}", newest.keys());
    for c in newest.values() {
        let bytes = std::fs::read(dir.path().join(&c.file)).unwrap();
        assert_eq!(bytes.len() as u64, c.bytes);
        use sha2::Digest;
        assert_eq!(hex::encode(sha2::Sha256::digest(&bytes)), c.sha256, "{}", c.file);
    }
    use advmix_protocol::events::CheckpointKind::*;
    assert!(kinds.contains(&(1, Last)) && kinds.contains(&(2, Last)));
    assert!(kinds.contains(&(1, Periodic)) && kinds.contains(&(2, Periodic)));
    assert!(kinds.iter().any(|k| k.1 == Best));
}

/// The final stage attacks the last weights once, after the last epoch and
/// before `finished`, and reports each attack's progress.
#[test]
fn the_final_attack_runs_after_the_last_epoch() {
    let _rng = torch_rng();
    let data = head(&digits(), 256);
    let mut config = small_config(Method::Erm, 1);
    config.eval.n = advmix_protocol::config::EvalSize::Count(60);
    config.eval.final_n = advmix_protocol::config::EvalSize::Count(60);
    config.eval.final_attack = advmix_protocol::FinalAttack::AaFast;
    let dir = tempfile::tempdir().unwrap();
    let outcome = train::run(&options(config, dir.path()), &data, &StopSignal::never()).unwrap();
    let Outcome::Finished(finished) = outcome else { panic!("the run finishes") };
    let events = events(dir.path());
    let names: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            Event::EvalProgress(p) => Some(p.attack.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(names, ["apgd-ce", "apgd-t"]);
    let position = |pred: fn(&Event) -> bool| events.iter().position(pred).unwrap();
    let eval = position(|e| matches!(e, Event::Eval(_)));
    assert!(position(|e| matches!(e, Event::Epoch(_))) < eval && eval < position(|e| matches!(e, Event::Finished(_))));
    let Event::Eval(report) = &events[eval] else { unreachable!() };
    assert_eq!((report.suite.as_str(), report.epoch, report.n), ("aa-fast", Some(1), 60));
    assert_eq!(report.checkpoint, "checkpoints/last.safetensors");
    assert!(report.robust_acc <= report.clean_acc);
    // APGD is at least as strong as the per-epoch PGD on the same points.
    assert!(report.robust_acc <= finished.final_robust_acc + 0.05, "{} vs PGD {}", report.robust_acc, finished.final_robust_acc);

    // Progress: the epoch's batches from 0, its evaluation before its
    // `epoch` line, and the final stage from before its first attack's result.
    use advmix_protocol::events::Stage;
    let progress: Vec<(usize, &advmix_protocol::events::Progress)> = events
        .iter()
        .enumerate()
        .filter_map(|(i, e)| match e {
            Event::Progress(p) => Some((i, p)),
            _ => None,
        })
        .collect();
    let (_, first) = progress[0];
    assert_eq!((first.stage, first.epoch, first.done), (Stage::Train, 1, 0), "{first:?}");
    let evaluate = progress.iter().find(|(_, p)| p.stage == Stage::Evaluate).expect("an evaluate progress");
    assert!(evaluate.0 < position(|e| matches!(e, Event::Epoch(_))));
    let (at, fin) = progress.iter().find(|(_, p)| p.stage == Stage::Final).expect("a final-stage progress");
    assert!(*at < position(|e| matches!(e, Event::EvalProgress(_))));
    let attack = fin.attack.as_ref().expect("the final stage names its attack");
    assert_eq!((attack.attack.as_str(), attack.index, attack.of, attack.n), ("apgd-ce", 1, 2, 60));
    // After the first epoch was timed, every estimate is a time, and none is negative.
    let after_eval = progress.iter().filter(|(i, _)| *i > evaluate.0);
    assert!(after_eval.clone().all(|(_, p)| p.eta_seconds.is_some_and(|s| s >= 0.0)), "{progress:?}");
    assert!(progress.iter().all(|(_, p)| p.done <= p.total), "{progress:?}");
}

/// A stop inside the final stage ends the run as stopped with every epoch
/// done; the resume runs only the final stage, then finishes.
#[test]
fn a_stop_during_the_final_attack_resumes_into_it() {
    let _rng = torch_rng();
    let data = head(&digits(), 256); // 4 batches of 64
    let mut config = small_config(Method::Erm, 1);
    config.eval.n = advmix_protocol::config::EvalSize::Count(40);
    config.eval.final_n = advmix_protocol::config::EvalSize::Count(40);
    config.eval.final_attack = advmix_protocol::FinalAttack::AaFast;
    let dir = tempfile::tempdir().unwrap();
    // Four training batches, then the first attack batch asks to stop.
    let stopped = train::run(&options(config.clone(), dir.path()), &data, &StopSignal::after_batches(5)).unwrap();
    assert_eq!(stopped, Outcome::Stopped { epoch: 1, batch: 0 });
    let first = events(dir.path());
    match first.last() {
        Some(Event::Stopped { reason }) => assert!(reason.contains("final aa-fast"), "{reason}"),
        other => panic!("ends stopped: {other:?}"),
    }
    assert!(!first.iter().any(|e| matches!(e, Event::Eval(_))));
    let clean = first.iter().find_map(|e| match e {
        Event::Epoch(m) => Some(m.test_clean_acc),
        _ => None,
    });

    let resumed = TrainOptions { resume: true, ..options(config, dir.path()) };
    let Outcome::Finished(finished) = train::run(&resumed, &data, &StopSignal::never()).unwrap() else {
        panic!("the resume finishes")
    };
    assert_eq!(Some(finished.final_clean_acc), clean, "the last epoch's numbers, kept in the resume file");
    let all = events(dir.path());
    let epochs = all.iter().filter(|e| matches!(e, Event::Epoch(_))).count();
    assert_eq!(epochs, 1, "no epoch is trained again");
    assert!(matches!(all[all.len() - 2], Event::Eval(_)) && matches!(all[all.len() - 1], Event::Finished(_)));
}
