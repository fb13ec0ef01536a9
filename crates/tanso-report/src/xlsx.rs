//! The AEF workbook: five sheets named as in the template. Table 1 is a form (labels down
//! column A, each value in column B); Tables 2–5 have the labels in row 1 and one record per
//! row. Whole numbers are written as numbers; ids, dates and vocabularies as text, so a date
//! stays `dd/mm/yyyy` and an id is never reformatted.

use std::path::Path;

use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook, Worksheet};

use crate::aef::{AefReport, Cell, Table};
use crate::ReportError;

/// Column widths in Excel character units, kept within these bounds.
const WIDTH_MIN: u16 = 10;
const WIDTH_MAX: u16 = 60;

/// Writes the five-sheet AEF workbook to `path`. The bytes depend only on `report`: the
/// document's creation time is the submission date (else 1 January after the reported year).
pub fn write_xlsx(report: &AefReport, path: &Path) -> Result<(), ReportError> {
    let mut workbook = Workbook::new();
    let created = match report.table1.submission_date {
        Some(d) => ExcelDateTime::from_ymd(d.y, d.m, d.d)?,
        None => ExcelDateTime::from_ymd(report.table1.reported_year.saturating_add(1), 1, 1)?,
    };
    workbook.set_properties(&DocProperties::new().set_creation_datetime(&created));
    let bold = Format::new().set_bold();

    for table in Table::ALL {
        let sheet = workbook.add_worksheet();
        sheet.set_name(table.sheet_name())?;
        if table == Table::Submission {
            write_form(sheet, table, report, &bold)?;
        } else {
            write_table(sheet, table, report, &bold)?;
        }
    }
    workbook.save(path)?;
    Ok(())
}

fn write_form(
    sheet: &mut Worksheet,
    table: Table,
    report: &AefReport,
    bold: &Format,
) -> Result<(), ReportError> {
    let rows = table.rows(report);
    let values = rows.first().map(Vec::as_slice).unwrap_or_default();
    let mut width_value = WIDTH_MIN;
    for (i, label) in table.labels().iter().enumerate() {
        let row = row_index(i)?;
        sheet.write_string_with_format(row, 0, *label, bold)?;
        if let Some(cell) = values.get(i) {
            write_cell(sheet, row, 1, cell)?;
            width_value = width_value.max(width_of(&cell.to_text()));
        }
    }
    let width_label = table
        .labels()
        .iter()
        .map(|l| width_of(l))
        .max()
        .unwrap_or(WIDTH_MIN);
    sheet.set_column_width(0, f64::from(width_label.saturating_add(2)))?;
    sheet.set_column_width(1, f64::from(width_value.saturating_add(2)))?;
    Ok(())
}

fn write_table(
    sheet: &mut Worksheet,
    table: Table,
    report: &AefReport,
    bold: &Format,
) -> Result<(), ReportError> {
    let labels = table.labels();
    let mut widths: Vec<u16> = labels.iter().map(|l| width_of(l)).collect();
    for (c, label) in (0u16..).zip(labels) {
        sheet.write_string_with_format(0, c, *label, bold)?;
    }
    for (i, cells) in table.rows(report).iter().enumerate() {
        let row = row_index(i + 1)?;
        for ((c, cell), width) in (0u16..).zip(cells).zip(widths.iter_mut()) {
            write_cell(sheet, row, c, cell)?;
            *width = (*width).max(width_of(&cell.to_text()));
        }
    }
    for (c, width) in (0u16..).zip(widths) {
        sheet.set_column_width(c, f64::from(width.saturating_add(2)))?;
    }
    sheet.set_freeze_panes(1, 0)?;
    Ok(())
}

fn write_cell(sheet: &mut Worksheet, row: u32, col: u16, cell: &Cell) -> Result<(), ReportError> {
    match cell {
        Cell::Text(s) => {
            sheet.write_string(row, col, s)?;
        }
        Cell::Number(n) => {
            sheet.write_number(row, col, exact_f64(*n)?)?;
        }
        Cell::Empty => {}
    }
    Ok(())
}

/// `n` as a double, exactly: refused above 2^53, where a double no longer holds every integer.
fn exact_f64(n: u64) -> Result<f64, ReportError> {
    const LIMIT: u64 = 1 << 53;
    if n > LIMIT {
        return Err(ReportError::NumberTooLarge { value: n });
    }
    let high = u32::try_from(n >> 32).map_err(|_| ReportError::NumberTooLarge { value: n })?;
    let low =
        u32::try_from(n & 0xFFFF_FFFF).map_err(|_| ReportError::NumberTooLarge { value: n })?;
    Ok(f64::from(high) * 4_294_967_296.0 + f64::from(low))
}

fn row_index(i: usize) -> Result<u32, ReportError> {
    u32::try_from(i)
        .ok()
        .filter(|r| *r < 1_048_576)
        .ok_or(ReportError::TooManyRows { rows: i })
}

fn width_of(text: &str) -> u16 {
    u16::try_from(text.chars().count())
        .unwrap_or(WIDTH_MAX)
        .clamp(WIDTH_MIN, WIDTH_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_f64_keeps_every_integer_up_to_2_pow_53() {
        for n in [
            0u64,
            1,
            4_294_967_295,
            4_294_967_296,
            123_456_789_012,
            1 << 53,
        ] {
            assert_eq!(
                exact_f64(n).ok().map(|f| f.to_string()),
                Some(n.to_string())
            );
        }
        assert!(matches!(
            exact_f64((1 << 53) + 1),
            Err(ReportError::NumberTooLarge { .. })
        ));
    }
}
