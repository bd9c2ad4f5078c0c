//! `--print-ddl`: the SQL every selected database would get, generated and written nowhere.

use super::*;

impl PgMigrate {
    /// The SQL that a migration would run for every database to migrate, read from the source
    /// only (`--print-ddl`): nothing is written to the target.
    pub async fn generate_ddl(&self) -> Result<String> {
        let source = connect(&self.opts.source, None)
            .await
            .map_err(|e| e.with_side(Side::Source))?;
        let all = list_databases(&source).await?;
        // The same database selection and filters as a migration, with the same errors.
        let mut report = ValidationReport::default();
        let names = crate::selection::preflight::select_databases(&all, &self.opts, &mut report);
        let selections = crate::selection::preflight::resolve_databases(
            &self.opts,
            &source,
            &names,
            &mut report,
        )
        .await;
        if let Some(e) = report
            .findings
            .iter()
            .find(|f| f.severity == Severity::Error)
        {
            return Err(crate::Error::config(e.message.clone()));
        }
        let mut out = String::new();
        for f in &report.findings {
            out.push_str(&format!("-- {}\n", f.message));
        }
        for name in &names {
            let s = connect(&self.opts.source, Some(name))
                .await
                .map_err(|e| e.with_side(Side::Source).with_database(name.clone()))?;
            let mut schema = read_schema(&s)
                .await
                .map_err(|e| e.with_side(Side::Source).with_database(name.clone()))?;
            let selection = selections
                .get(name)
                .map(|r| r.selection.clone())
                .unwrap_or_else(|| DbSelection::everything(name));
            let skipped = filter_schema(&mut schema, &selection, &self.opts.excluded_extensions);
            schema.warnings.extend(skipped);
            out.push_str(&format!(
                "--\n-- database {}\n--\n",
                crate::sql::quote_ident(name)
            ));
            for w in &schema.warnings {
                out.push_str(&format!("-- warning: {w}\n"));
            }
            out.push_str(&exec::script(&schema, self.opts.schema));
            out.push('\n');
        }
        Ok(out)
    }
}
