//! Sample grids: what the method trains on, next to the clean images and
//! their PGD adversarial examples, for a fixed batch of test images.

use std::path::Path;

use advmix_protocol::RunConfig;
use tch::nn::ModuleT;
use tch::{Kind, Tensor};

use crate::attacks::Pgd;
use crate::methods;

pub const SAMPLES: i64 = 8;
const BORDER: i64 = 1;
const ZOOM: i64 = 2;

/// Rows: clean, the method's training inputs, PGD adversarial examples.
/// Runs everything in eval mode, so training state is untouched.
pub fn write_grid(
    path: &Path,
    config: &RunConfig,
    model: &impl ModuleT,
    x: &Tensor,
    y: &Tensor,
    classes: i64,
    pgd: &Pgd,
) -> Result<(), tch::TchError> {
    let method_inputs = methods::step(config, model, x, y, classes, false).inputs.detach();
    let adversarial = pgd.attack_ce(model, x, y, false);
    let rows = Tensor::stack(&[x.shallow_clone(), method_inputs, adversarial], 0);
    let [r, n, c, h, w] = rows.size()[..] else { unreachable!("stacked rows are 5-d") };
    let cells = rows
        .view([r * n, c, h, w])
        .upsample_nearest2d([h * ZOOM, w * ZOOM], None, None)
        .constant_pad_nd([BORDER, BORDER, BORDER, BORDER]);
    let (ch, cw) = (h * ZOOM + 2 * BORDER, w * ZOOM + 2 * BORDER);
    let grid = cells.view([r, n, c, ch, cw]).permute([2, 0, 3, 1, 4]).reshape([c, r * ch, n * cw]);
    let pixels = (grid * 255.0).round().clamp(0.0, 255.0).to_kind(Kind::Uint8);
    let tmp = path.with_extension("tmp.png");
    tch::vision::image::save(&pixels, &tmp)?;
    std::fs::rename(&tmp, path).map_err(tch::TchError::from)
}
