//! Oracle MySQL, which isoscope only reaches as an external server (`--url ... --flavor mysql`):
//! it speaks InnoDB's SQL, so every answer is the [`FlavorSpec`] default, except that isoscope
//! cannot start one.

use super::target::Setting;
use super::{Binaries, Flavor, FlavorSpec, Launcher, ServerError};

/// MySQL's answers to [`FlavorSpec`].
pub struct MysqlFlavor;

impl FlavorSpec for MysqlFlavor {
    fn flavor(&self) -> Flavor {
        Flavor::Mysql
    }

    fn display_name(&self) -> &'static str {
        "MySQL"
    }

    fn managed(&self) -> bool {
        false
    }

    fn launcher(
        &self,
        _settings: &[Setting],
        _binaries: &Binaries,
    ) -> Result<Box<dyn Launcher>, ServerError> {
        Err(ServerError::Unsupported(
            "isoscope does not manage MySQL servers; give one with --url".into(),
        ))
    }
}
