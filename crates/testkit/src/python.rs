//! The Python interpreter of the interop tests, with `tests/interop/requirements.txt`
//! installed.
//!
//! On first use a virtual environment is made under the target directory
//! (`target/interop-python-<hash of requirements.txt>`) and the requirements are installed
//! into it from PyPI; later runs reuse it. Test binaries run in parallel, so the work is done
//! under an exclusive file lock. Without `python3`, or when the install fails, the test fails
//! with the reason: an interop test never skips.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The interpreter to run interop scripts with.
#[derive(Debug, Clone)]
pub struct Python {
    program: PathBuf,
    /// Set when the packages were installed with `pip --target` (no `venv` module).
    pythonpath: Option<PathBuf>,
}

impl Python {
    /// A command running this interpreter with the interop packages importable.
    pub fn command(&self) -> Command {
        let mut command = Command::new(&self.program);
        if let Some(path) = &self.pythonpath {
            command.env("PYTHONPATH", path);
        }
        command
    }
}

/// The repository root (this crate is `crates/testkit`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A script under `tests/interop/`.
pub fn interop_script(name: &str) -> PathBuf {
    workspace_root().join("tests/interop").join(name)
}

/// The interpreter with the interop requirements installed, made on first use.
///
/// # Panics
/// When `python3` is missing or the packages cannot be installed.
pub fn python() -> &'static Python {
    static PYTHON: OnceLock<Python> = OnceLock::new();
    PYTHON.get_or_init(|| {
        provision().unwrap_or_else(|e| {
            panic!("the interop tests need python3 and PyPI (tests/interop/requirements.txt): {e}")
        })
    })
}

fn provision() -> Result<Python, String> {
    let requirements = interop_script("requirements.txt");
    let wanted = fs::read(&requirements).map_err(|e| format!("{}: {e}", requirements.display()))?;
    let target = target_dir();
    fs::create_dir_all(&target).map_err(|e| format!("{}: {e}", target.display()))?;
    let dir = target.join(format!("interop-python-{:016x}", fnv1a(&wanted)));
    let lock = File::create(target.join("interop-python.lock")).map_err(|e| e.to_string())?;
    lock.lock()
        .map_err(|e| format!("locking the interop environment: {e}"))?;
    let ready = dir.join("ready");
    if !ready.exists() {
        let _ = fs::remove_dir_all(&dir);
        install(&dir, &requirements)?;
        fs::write(&ready, b"").map_err(|e| e.to_string())?;
    }
    drop(lock);
    Ok(interpreter(&dir))
}

/// A virtual environment when the `venv` module works, else `pip install --target`.
fn install(dir: &Path, requirements: &Path) -> Result<(), String> {
    let venv = run(Command::new("python3").args(["-m", "venv"]).arg(dir));
    let pip = match venv {
        Ok(()) => {
            let mut pip = Command::new(dir.join("bin/python"));
            pip.args(["-m", "pip", "install"]);
            pip
        }
        Err(_) => {
            let _ = fs::remove_dir_all(dir);
            let mut pip = Command::new("python3");
            pip.args(["-m", "pip", "install", "--target"])
                .arg(dir.join("site"));
            pip
        }
    };
    let mut pip = pip;
    pip.args(["--quiet", "--disable-pip-version-check", "--no-input", "-r"])
        .arg(requirements);
    run(&mut pip)
}

fn interpreter(dir: &Path) -> Python {
    let site = dir.join("site");
    if site.is_dir() {
        Python {
            program: "python3".into(),
            pythonpath: Some(site),
        }
    } else {
        Python {
            program: dir.join("bin/python"),
            pythonpath: None,
        }
    }
}

fn run(command: &mut Command) -> Result<(), String> {
    let out = command
        .output()
        .map_err(|e| format!("{:?}: {e}", command.get_program()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{:?} failed: {}",
            command.get_program(),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// `CARGO_TARGET_DIR` when set, else `target/` at the root.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// FNV-1a, to name the environment after the requirements it holds.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}
