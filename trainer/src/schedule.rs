//! Learning-rate schedules, as functions of fractional epoch progress so that
//! the per-iteration schedules (cosine, one-cycle) update every batch.

use advmix_protocol::config::LrSchedule;

/// The learning rate at `t` epochs into a run of `epochs` (0 ≤ t ≤ epochs).
pub fn learning_rate(schedule: LrSchedule, lr_max: f64, epochs: u32, t: f64) -> f64 {
    let total = f64::from(epochs.max(1));
    let progress = (t / total).clamp(0.0, 1.0);
    match schedule {
        // Rice et al. step at whole epochs: ×0.1 from epoch E/2, ×0.01 from 3E/4.
        LrSchedule::Piecewise => {
            let epoch = t.floor();
            if epoch < total / 2.0 {
                lr_max
            } else if epoch < total * 3.0 / 4.0 {
                lr_max * 0.1
            } else {
                lr_max * 0.01
            }
        }
        LrSchedule::Cosine => lr_max * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()),
        // Wong et al. 2020's cyclic schedule: linear up to lr_max at 40%, then down to 0.
        LrSchedule::Onecycle => {
            const PEAK: f64 = 0.4;
            if progress < PEAK {
                lr_max * progress / PEAK
            } else {
                lr_max * (1.0 - progress) / (1.0 - PEAK)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn piecewise_matches_rice_et_al() {
        let lr = |t| learning_rate(LrSchedule::Piecewise, 0.1, 200, t);
        assert_eq!(lr(0.0), 0.1);
        assert_eq!(lr(99.9), 0.1);
        assert!((lr(100.0) - 0.01).abs() < 1e-15);
        assert!((lr(149.5) - 0.01).abs() < 1e-15);
        assert!((lr(150.0) - 0.001).abs() < 1e-15);
    }

    #[test]
    fn cosine_and_onecycle_shapes() {
        assert!((learning_rate(LrSchedule::Cosine, 0.2, 10, 0.0) - 0.2).abs() < 1e-12);
        assert!((learning_rate(LrSchedule::Cosine, 0.2, 10, 5.0) - 0.1).abs() < 1e-12);
        assert!(learning_rate(LrSchedule::Cosine, 0.2, 10, 10.0).abs() < 1e-12);
        assert_eq!(learning_rate(LrSchedule::Onecycle, 0.2, 10, 0.0), 0.0);
        assert!((learning_rate(LrSchedule::Onecycle, 0.2, 10, 4.0) - 0.2).abs() < 1e-12);
        assert!(learning_rate(LrSchedule::Onecycle, 0.2, 10, 10.0).abs() < 1e-12);
    }
}
