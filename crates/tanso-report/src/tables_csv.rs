//! The AEF tables as CSV files, one per table, header row first. Table 1, a form in the
//! workbook, is here a header row of its labels and one record, like the other tables.

use std::path::{Path, PathBuf};

use crate::aef::{AefReport, Table};
use crate::ReportError;

/// Writes one CSV per table into `dir` (created if missing), named by [`Table::file_name`];
/// returns the paths in table order.
pub fn write_csv(report: &AefReport, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    std::fs::create_dir_all(dir).map_err(|source| ReportError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut paths = Vec::with_capacity(Table::ALL.len());
    for table in Table::ALL {
        let path = dir.join(table.file_name());
        write_table(report, table, &path).map_err(|source| ReportError::Csv {
            path: path.clone(),
            source,
        })?;
        paths.push(path);
    }
    Ok(paths)
}

fn write_table(report: &AefReport, table: Table, path: &Path) -> Result<(), csv::Error> {
    let mut writer = csv::Writer::from_path(path)?;
    writer.write_record(table.labels())?;
    for row in table.rows(report) {
        writer.write_record(row.iter().map(|cell| cell.to_text()))?;
    }
    writer.flush()?;
    Ok(())
}
