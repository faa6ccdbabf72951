//! Checkpoints as safetensors files, written to a temporary name and renamed
//! so that a crash never leaves a half-written file under the real name.
//!
//! Model files hold exactly the PyTorch `state_dict` of the architecture, so
//! `model.load_state_dict(safetensors.torch.load_file(path))` works. The
//! resume file adds the optimizer's momentum buffers, and its metadata holds
//! the training position, so `--resume` continues a run exactly.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use sha2::{Digest, Sha256};
use tch::{Device, Kind, Tensor};

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("cannot write {path}: {source}")]
    Write { path: String, source: std::io::Error },
    #[error("cannot read {path}: {detail}")]
    Read { path: String, detail: String },
}

pub struct Written {
    pub bytes: u64,
    pub sha256: String,
}

fn dtype_of(kind: Kind) -> Option<Dtype> {
    Some(match kind {
        Kind::Float => Dtype::F32,
        Kind::Double => Dtype::F64,
        Kind::Half => Dtype::F16,
        Kind::BFloat16 => Dtype::BF16,
        Kind::Int64 => Dtype::I64,
        Kind::Int => Dtype::I32,
        Kind::Uint8 => Dtype::U8,
        Kind::Bool => Dtype::BOOL,
        _ => return None,
    })
}

fn kind_of(dtype: Dtype) -> Option<Kind> {
    Some(match dtype {
        Dtype::F32 => Kind::Float,
        Dtype::F64 => Kind::Double,
        Dtype::F16 => Kind::Half,
        Dtype::BF16 => Kind::BFloat16,
        Dtype::I64 => Kind::Int64,
        Dtype::I32 => Kind::Int,
        Dtype::U8 => Kind::Uint8,
        Dtype::BOOL => Kind::Bool,
        _ => return None,
    })
}

/// Serializes `tensors` with `metadata` and atomically replaces `path`.
pub fn write(
    path: &Path,
    tensors: &[(String, Tensor)],
    metadata: HashMap<String, String>,
) -> Result<Written, CheckpointError> {
    let io_err = |source| CheckpointError::Write { path: path.display().to_string(), source };
    let host: Vec<(String, Tensor, Vec<u8>)> = tensors
        .iter()
        .map(|(name, t)| {
            let t = t.detach().to_device(Device::Cpu).contiguous();
            let mut bytes = vec![0u8; t.numel() * t.kind().elt_size_in_bytes()];
            t.copy_data_u8(&mut bytes, t.numel());
            (name.clone(), t, bytes)
        })
        .collect();
    let mut views = Vec::with_capacity(host.len());
    for (name, t, bytes) in &host {
        let dtype = dtype_of(t.kind()).ok_or_else(|| {
            io_err(std::io::Error::other(format!("{name} has unsupported kind {:?}", t.kind())))
        })?;
        let shape: Vec<usize> = t.size().iter().map(|&d| d as usize).collect();
        let view = TensorView::new(dtype, shape, bytes).map_err(|e| io_err(std::io::Error::other(e)))?;
        views.push((name.as_str(), view));
    }
    let data = safetensors::serialize(views, Some(metadata)).map_err(|e| io_err(std::io::Error::other(e)))?;

    let tmp = path.with_extension("safetensors.tmp");
    let written = fs::File::create(&tmp)
        .and_then(|mut file| file.write_all(&data).and_then(|()| file.sync_all()))
        .and_then(|()| fs::rename(&tmp, path));
    if let Err(e) = written {
        // A full disk must not keep the half-written file (and its space).
        let _ = fs::remove_file(&tmp);
        return Err(io_err(e));
    }
    Ok(Written { bytes: data.len() as u64, sha256: hex::encode(Sha256::digest(&data)) })
}

pub struct Loaded {
    pub tensors: HashMap<String, Tensor>,
    pub metadata: HashMap<String, String>,
}

pub fn read(path: &Path) -> Result<Loaded, CheckpointError> {
    let err = |detail: String| CheckpointError::Read { path: path.display().to_string(), detail };
    let data = fs::read(path).map_err(|e| err(e.to_string()))?;
    let (_, meta) = SafeTensors::read_metadata(&data).map_err(|e| err(e.to_string()))?;
    let metadata = meta.metadata().clone().unwrap_or_default();
    let st = SafeTensors::deserialize(&data).map_err(|e| err(e.to_string()))?;
    let mut tensors = HashMap::new();
    for (name, view) in st.tensors() {
        let kind = kind_of(view.dtype()).ok_or_else(|| err(format!("{name}: unsupported dtype")))?;
        let shape: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
        tensors.insert(name, Tensor::from_data_size(view.data(), &shape, kind));
    }
    Ok(Loaded { tensors, metadata })
}
