//! The object model the schema engine works on: every object of a source database becomes one
//! [`SchemaObject`] that carries the statements creating it, its owner, privileges and comment,
//! the section it belongs to, and the identity `pg_depend` uses for it, so that ordering can be
//! computed from the catalog's own dependency records.

use std::fmt;

use db_migrate_core::sql::quote_ident;
use db_migrate_core::warning::Warning;

pub use db_migrate_catalog::class;

pub use db_migrate_catalog::class::ObjId;

/// Before the data load (everything needed to receive rows) or after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Section {
    PreData,
    PostData,
}

/// What kind of object this is. The order of the variants is the tie-break order when
/// dependencies leave a choice (like pg_dump's type priorities), so related kinds stay together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ObjectKind {
    Schema,
    Extension,
    Language,
    Collation,
    /// Shell type created ahead of a base type whose I/O functions need it.
    ShellType,
    Type,
    Domain,
    Function,
    Aggregate,
    AccessMethod,
    Operator,
    OperatorFamily,
    OperatorClass,
    Cast,
    Conversion,
    TextSearchParser,
    TextSearchTemplate,
    TextSearchDictionary,
    TextSearchConfiguration,
    ForeignDataWrapper,
    ForeignServer,
    UserMapping,
    Sequence,
    Table,
    ForeignTable,
    /// `ALTER TABLE ... ATTACH PARTITION` / inheritance wiring kept apart from the table.
    TableAttach,
    /// A column default, CHECK constraint or similar split out of its table to break a cycle.
    TablePart,
    SequenceOwnedBy,
    View,
    MaterializedView,
    DefaultPrivileges,
    LargeObject,
    // post-data
    Index,
    IndexAttach,
    Constraint,
    ForeignKey,
    Trigger,
    Rule,
    Policy,
    Statistics,
    MaterializedViewRefresh,
    EventTrigger,
    Publication,
    /// Created disabled, without a slot (`connect = false`), like pg_dump writes it.
    Subscription,
    Transform,
    /// GRANT / REVOKE on a `pg_catalog` or `information_schema` object (no CREATE).
    SystemPrivileges,
    /// `SECURITY LABEL FOR provider ON ...` of another object (no CREATE).
    SecurityLabel,
    /// `COMMENT ON ...` of an extension member (no CREATE: the extension made the member).
    MemberComment,
}

impl ObjectKind {
    /// The SQL keyword(s) naming this kind in `COMMENT ON`, `ALTER ... OWNER TO` and `GRANT ... ON`.
    pub fn keyword(self) -> &'static str {
        match self {
            ObjectKind::Schema => "SCHEMA",
            ObjectKind::Extension => "EXTENSION",
            ObjectKind::Language => "LANGUAGE",
            ObjectKind::Collation => "COLLATION",
            ObjectKind::ShellType | ObjectKind::Type => "TYPE",
            ObjectKind::Domain => "DOMAIN",
            ObjectKind::Function => "FUNCTION",
            ObjectKind::Aggregate => "AGGREGATE",
            ObjectKind::AccessMethod => "ACCESS METHOD",
            ObjectKind::Operator => "OPERATOR",
            ObjectKind::OperatorFamily => "OPERATOR FAMILY",
            ObjectKind::OperatorClass => "OPERATOR CLASS",
            ObjectKind::Cast => "CAST",
            ObjectKind::Conversion => "CONVERSION",
            ObjectKind::TextSearchParser => "TEXT SEARCH PARSER",
            ObjectKind::TextSearchTemplate => "TEXT SEARCH TEMPLATE",
            ObjectKind::TextSearchDictionary => "TEXT SEARCH DICTIONARY",
            ObjectKind::TextSearchConfiguration => "TEXT SEARCH CONFIGURATION",
            ObjectKind::ForeignDataWrapper => "FOREIGN DATA WRAPPER",
            ObjectKind::ForeignServer => "SERVER",
            ObjectKind::UserMapping => "USER MAPPING",
            ObjectKind::Sequence | ObjectKind::SequenceOwnedBy => "SEQUENCE",
            ObjectKind::Table | ObjectKind::TableAttach | ObjectKind::TablePart => "TABLE",
            ObjectKind::ForeignTable => "FOREIGN TABLE",
            ObjectKind::View => "VIEW",
            ObjectKind::MaterializedView | ObjectKind::MaterializedViewRefresh => {
                "MATERIALIZED VIEW"
            }
            ObjectKind::DefaultPrivileges => "DEFAULT PRIVILEGES",
            ObjectKind::LargeObject => "LARGE OBJECT",
            ObjectKind::Index | ObjectKind::IndexAttach => "INDEX",
            ObjectKind::Constraint | ObjectKind::ForeignKey => "CONSTRAINT",
            ObjectKind::Trigger => "TRIGGER",
            ObjectKind::Rule => "RULE",
            ObjectKind::Policy => "POLICY",
            ObjectKind::Statistics => "STATISTICS",
            ObjectKind::EventTrigger => "EVENT TRIGGER",
            ObjectKind::Publication => "PUBLICATION",
            ObjectKind::Subscription => "SUBSCRIPTION",
            ObjectKind::Transform => "TRANSFORM",
            ObjectKind::SystemPrivileges => "PRIVILEGES ON",
            ObjectKind::SecurityLabel => "SECURITY LABEL",
            ObjectKind::MemberComment => "COMMENT",
        }
    }

    /// Human-readable kind for messages ("materialized view").
    pub fn label(self) -> String {
        self.keyword().to_ascii_lowercase()
    }
}

/// The SQL keyword naming a labelled (or commented) object's kind in `SECURITY LABEL ON` and
/// `COMMENT ON`, from `pg_identify_object`'s type; `None` for kinds db-migrate does not carry
/// labels or member comments for.
pub fn identified_keyword(object_type: &str) -> Option<&'static str> {
    Some(match object_type {
        "table" => "TABLE",
        "view" => "VIEW",
        "materialized view" => "MATERIALIZED VIEW",
        "foreign table" => "FOREIGN TABLE",
        "sequence" => "SEQUENCE",
        t if t.ends_with(" column") => "COLUMN",
        "function" => "FUNCTION",
        "procedure" => "PROCEDURE",
        "aggregate" => "AGGREGATE",
        "type" | "composite type" => "TYPE",
        "domain" => "DOMAIN",
        "schema" => "SCHEMA",
        "language" => "LANGUAGE",
        "event trigger" => "EVENT TRIGGER",
        "publication" => "PUBLICATION",
        "subscription" => "SUBSCRIPTION",
        "database" => "DATABASE",
        "large object" => "LARGE OBJECT",
        _ => return None,
    })
}

/// Who may create an object. Objects the target user may lack rights for are skipped with a
/// per-object warning instead of failing the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Privilege {
    /// Any owner of the database can create it.
    #[default]
    Normal,
    /// Needs superuser (event triggers, untrusted languages, C functions, base types...): skipped
    /// with a warning when the target refuses it for lack of privilege.
    MaySkip,
}

/// One object of the source database, ready to be created in the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaObject {
    pub id: ObjId,
    pub kind: ObjectKind,
    pub section: Section,
    /// Schema of the object (None for global-ish objects such as extensions, casts, FDWs).
    pub schema: Option<String>,
    /// Unquoted name, for sorting and messages.
    pub name: String,
    /// Statements that create the object, in order.
    pub create: Vec<String>,
    /// The owner role and the statement that sets it (skipped with `--no-owner`, or when the
    /// target user may not set it). Boxed: indexes, constraints and foreign keys, most of the
    /// objects of a large schema, have none, and its two strings took 48 bytes in each.
    pub owner: Option<Box<Owner>>,
    /// For post-data objects: the table whose data must be loaded before this runs. Objects with
    /// `table = Some(oid)` are run by the data engine right after that table's copy.
    pub table: Option<u32>,
    /// Dependencies the reader knows of in addition to `pg_depend`.
    pub deps: Vec<ObjId>,
    /// Every object this one directly depends on (from `pg_depend` and `deps`), filled in by
    /// [`super::graph::order`]: when the target refuses one of them, this one is skipped too
    /// rather than failing with "does not exist".
    pub depends_on: Vec<ObjId>,
    pub privilege: Privilege,
    /// What few objects have (storage options, privileges, comments, a tablespace, a
    /// search_path, an extension's spec), behind one pointer: at 100,000 tables most of the
    /// 400,000 objects have none of it, and carrying its room inline took 120 bytes each
    /// (see [`ObjectRare`]). Read and written through the accessors below.
    rare: Option<Box<ObjectRare>>,
}

/// The parts of a [`SchemaObject`] that most objects lack (an index, a constraint or a foreign
/// key has none of them; a table usually none), boxed so that they cost one pointer where they
/// are absent, as the catalog's `ColumnRare` does for columns.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct ObjectRare {
    /// Statements that set one storage parameter or attribute option each (`ALTER ... SET
    /// ("name"='value')`), run right after `create`. Kept apart because the set of parameters
    /// belongs to a server major (a newer source's `autovacuum_vacuum_max_threshold`, an option
    /// a patched source server stored for itself): the target's refusal of one it does not
    /// know (SQLSTATE 22023) is a warning naming it, not a failed database.
    pub options: Vec<String>,
    /// GRANT / REVOKE statements (skipped with `--no-acl`).
    pub acl: Vec<String>,
    /// COMMENT ON statements (object and, for relations, columns).
    pub comments: Vec<String>,
    /// The source's non-default tablespace of the relation or index this object creates. The
    /// executor runs `create` under `SET default_tablespace` (as pg_dump does) when the target
    /// has a tablespace of that name, and in the target's default tablespace, with a warning,
    /// when it has not. Tablespaces themselves are never created (their locations are paths
    /// on the server).
    pub tablespace: Option<String>,
    /// The search_path (a GUC list as stored, e.g. `app, public`) that `create` runs with
    /// instead of the empty one: set only where the server parses a SQL function's body while
    /// creating the object (inlining), from what the source gives the object's owner, and for
    /// extension functions their extension's schema ([`super::search_paths`]).
    pub search_path: Option<String>,
    /// For an extension: what to create, so that the executor can fall back to the target's
    /// default version (see [`super::exec::version_plan`]).
    pub extension: Option<ExtensionSpec>,
}

/// Name, schema and version of an extension to create. Part of [`SchemaObject`], so here
/// with it rather than with the extensions' builders ([`super::extensions`]), which use the
/// model like every other builder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionSpec {
    pub name: String,
    pub schema: String,
    /// The source's `extversion`.
    pub version: String,
}

/// An owner and the statement that sets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub role: String,
    pub sql: String,
}

impl SchemaObject {
    /// A new object with no statements yet.
    pub fn new(
        id: ObjId,
        kind: ObjectKind,
        section: Section,
        schema: Option<&str>,
        name: impl Into<String>,
    ) -> Self {
        SchemaObject {
            id,
            kind,
            section,
            schema: schema.map(str::to_owned),
            name: name.into(),
            create: Vec::new(),
            owner: None,
            table: None,
            deps: Vec::new(),
            depends_on: Vec::new(),
            privilege: Privilege::Normal,
            rare: None,
        }
    }

    /// The rare parts, made on first write.
    fn rare_mut(&mut self) -> &mut ObjectRare {
        self.rare.get_or_insert_with(Box::default)
    }

    /// Statements that set one storage parameter or attribute option each (`ALTER ... SET
    /// ("name"='value')`), run right after [`create`](Self::create). Kept apart because the
    /// set of parameters belongs to a server major (a newer source's
    /// `autovacuum_vacuum_max_threshold`, an option a patched source server stored for
    /// itself): the target's refusal of one it does not know (SQLSTATE 22023) is a warning
    /// naming it, not a failed database.
    pub fn options(&self) -> &[String] {
        self.rare.as_ref().map_or(&[], |r| &r.options)
    }

    /// Adds option statements (nothing is allocated for none).
    pub fn extend_options(&mut self, stmts: impl IntoIterator<Item = String>) {
        extend_rare(self, stmts, |r| &mut r.options);
    }

    /// GRANT / REVOKE statements (skipped with `--no-acl`).
    pub fn acl(&self) -> &[String] {
        self.rare.as_ref().map_or(&[], |r| &r.acl)
    }

    /// Adds privilege statements (nothing is allocated for none).
    pub fn extend_acl(&mut self, stmts: impl IntoIterator<Item = String>) {
        extend_rare(self, stmts, |r| &mut r.acl);
    }

    /// Replaces the privilege statements (`--no-acl` empties them).
    pub fn set_acl(&mut self, stmts: Vec<String>) {
        match &mut self.rare {
            Some(r) => r.acl = stmts,
            None => self.extend_acl(stmts),
        }
    }

    /// Replaces the option statements.
    pub fn set_options(&mut self, stmts: Vec<String>) {
        match &mut self.rare {
            Some(r) => r.options = stmts,
            None => self.extend_options(stmts),
        }
    }

    /// COMMENT ON statements (object and, for relations, columns).
    pub fn comments(&self) -> &[String] {
        self.rare.as_ref().map_or(&[], |r| &r.comments)
    }

    /// Adds COMMENT ON statements (nothing is allocated for none).
    pub fn extend_comments(&mut self, stmts: impl IntoIterator<Item = String>) {
        extend_rare(self, stmts, |r| &mut r.comments);
    }

    /// Adds one COMMENT ON statement.
    pub fn push_comment(&mut self, stmt: String) {
        self.rare_mut().comments.push(stmt);
    }

    /// Replaces the COMMENT ON statements (`--no-comments` empties them).
    pub fn set_comments(&mut self, stmts: Vec<String>) {
        match &mut self.rare {
            Some(r) => r.comments = stmts,
            None => self.extend_comments(stmts),
        }
    }

    /// The source's non-default tablespace of the relation or index this object creates. The
    /// executor runs `create` under `SET default_tablespace` (as pg_dump does) when the target
    /// has a tablespace of that name, and in the target's default tablespace, with a warning,
    /// when it has not. Tablespaces themselves are never created (their locations are paths
    /// on the server).
    pub fn tablespace(&self) -> Option<&str> {
        self.rare.as_ref()?.tablespace.as_deref()
    }

    pub fn set_tablespace(&mut self, name: Option<String>) {
        if name.is_some() || self.rare.is_some() {
            self.rare_mut().tablespace = name;
        }
    }

    /// The search_path (a GUC list as stored, e.g. `app, public`) that `create` runs with
    /// instead of the empty one: set only where the server parses a SQL function's body while
    /// creating the object (inlining), from what the source gives the object's owner, and for
    /// extension functions their extension's schema ([`super::search_paths`]).
    pub fn search_path(&self) -> Option<&str> {
        self.rare.as_ref()?.search_path.as_deref()
    }

    pub fn set_search_path(&mut self, path: Option<String>) {
        if path.is_some() || self.rare.is_some() {
            self.rare_mut().search_path = path;
        }
    }

    /// For an extension: what to create, so that the executor can fall back to the target's
    /// default version (see [`super::exec::version_plan`]).
    pub fn extension(&self) -> Option<&ExtensionSpec> {
        self.rare.as_ref()?.extension.as_ref()
    }

    pub fn set_extension(&mut self, spec: ExtensionSpec) {
        self.rare_mut().extension = Some(spec);
    }

    /// Gives back what its vectors and strings reserved beyond their contents: a statement
    /// made by `format!` and pushes reserves up to twice its length, a vector of one statement
    /// room for four. Called once an object is final ([`super::graph::order`]); at 100,000
    /// tables that is about a third of the schema's memory.
    pub fn shrink(&mut self) {
        fn strings(v: &mut Vec<String>) {
            v.iter_mut().for_each(String::shrink_to_fit);
            v.shrink_to_fit();
        }
        let optional = |s: &mut Option<String>| s.iter_mut().for_each(String::shrink_to_fit);
        optional(&mut self.schema);
        self.name.shrink_to_fit();
        strings(&mut self.create);
        if let Some(o) = &mut self.owner {
            o.role.shrink_to_fit();
            o.sql.shrink_to_fit();
        }
        self.deps.shrink_to_fit();
        self.depends_on.shrink_to_fit();
        if self.rare.as_deref() == Some(&ObjectRare::default()) {
            self.rare = None;
        }
        if let Some(r) = &mut self.rare {
            strings(&mut r.options);
            strings(&mut r.acl);
            strings(&mut r.comments);
            optional(&mut r.tablespace);
            optional(&mut r.search_path);
        }
    }

    /// `kind "schema"."name"` for messages.
    pub fn describe(&self) -> String {
        if self.kind == ObjectKind::SecurityLabel {
            // Its name already says what it labels, with the object's own quoting.
            return format!("security label {}", self.name);
        }
        if self.kind == ObjectKind::MemberComment {
            return self.name.clone();
        }
        match &self.schema {
            Some(s) => format!(
                "{} {}.{}",
                self.kind.label(),
                quote_ident(s),
                quote_ident(&self.name)
            ),
            None => format!("{} {}", self.kind.label(), quote_ident(&self.name)),
        }
    }
}

impl SchemaObject {
    /// Every role the statements of this object act as, besides the migration user: the
    /// owner, the grantors that privilege statements replay with `SET ROLE` (see [`acl_sql`]),
    /// and the role of default privileges (`ALTER DEFAULT PRIVILEGES FOR ROLE`). The migration
    /// user needs membership in each (see [`crate::owners`]).
    pub fn acting_roles(&self) -> Vec<String> {
        let mut out: Vec<String> = self.owner.iter().map(|o| o.role.clone()).collect();
        for stmt in self.acl() {
            for prefix in [SET_ROLE, DEFAULT_PRIVILEGES_FOR_ROLE] {
                if let Some(rest) = stmt.strip_prefix(prefix) {
                    let mut chars = rest.chars().peekable();
                    if chars.peek() == Some(&'"') {
                        let role = db_migrate_core::sql::take_quoted(&mut chars);
                        if !out.contains(&role) {
                            out.push(role);
                        }
                    }
                }
            }
        }
        out
    }
}

/// Appends `stmts` to the rare vector `field` picks, making the rare parts only when there is
/// something to append.
fn extend_rare(
    o: &mut SchemaObject,
    stmts: impl IntoIterator<Item = String>,
    field: fn(&mut ObjectRare) -> &mut Vec<String>,
) {
    let mut stmts = stmts.into_iter().peekable();
    if stmts.peek().is_some() {
        field(o.rare_mut()).extend(stmts);
    }
}

/// How privilege statements replayed as their grantor start (followed by the quoted role).
const SET_ROLE: &str = "SET ROLE ";
/// How default privileges statements start (followed by the quoted role).
pub const DEFAULT_PRIVILEGES_FOR_ROLE: &str = "ALTER DEFAULT PRIVILEGES FOR ROLE ";

impl fmt::Display for SchemaObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

/// `pg_depend` entries that point at catalog rows which are not objects of their own in our
/// model (a column default, a view's rewrite rule, a table's row type, an array type) are
/// redirected to the object that owns them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alias {
    pub alias: ObjId,
    pub target: ObjId,
}

/// What one reader collected.
#[derive(Debug, Clone, Default)]
pub struct Collected {
    pub objects: Vec<SchemaObject>,
    pub aliases: Vec<Alias>,
    /// Things the reader could not reproduce, said plainly (e.g. a kind the target lacks).
    pub warnings: Vec<Warning>,
}

impl Collected {
    pub fn extend(&mut self, other: Collected) {
        self.objects.extend(other.objects);
        self.aliases.extend(other.aliases);
        self.warnings.extend(other.warnings);
    }
}

/// `ALTER <keyword> <object> OWNER TO <role>`.
pub fn owner_sql(kind: ObjectKind, object: &str, role: &str) -> Box<Owner> {
    Box::new(Owner {
        role: role.to_owned(),
        sql: format!(
            "ALTER {} {object} OWNER TO {}",
            kind.keyword(),
            quote_ident(role)
        ),
    })
}

/// `COMMENT ON <keyword> <object> IS '<comment>'`, or nothing without a comment.
pub fn comment_sql(keyword: &str, object: &str, comment: Option<&str>) -> Option<String> {
    comment.map(|c| {
        format!(
            "COMMENT ON {keyword} {object} IS {}",
            db_migrate_core::sql::quote_literal(c)
        )
    })
}

/// One parsed `aclitem`: `grantee=privs/grantor`, with an empty grantee meaning PUBLIC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclItem {
    pub grantee: Option<String>,
    pub grantor: String,
    /// (privilege letter, with grant option)
    pub privileges: Vec<(char, bool)>,
}

/// Parses the text form of an aclitem (`"my role"=arw*/owner`), as the server prints it:
/// role names are double-quoted when needed, with `""` for a quote inside.
pub fn parse_aclitem(text: &str) -> Option<AclItem> {
    fn name(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, stop: char) -> String {
        if chars.peek() == Some(&'"') {
            return db_migrate_core::sql::take_quoted(chars);
        }
        let mut out = String::new();
        while let Some(&c) = chars.peek() {
            if c == stop {
                break;
            }
            out.push(c);
            chars.next();
        }
        out
    }
    let mut chars = text.chars().peekable();
    let grantee = name(&mut chars, '=');
    if chars.next() != Some('=') {
        return None;
    }
    let mut privileges = Vec::new();
    while let Some(&c) = chars.peek() {
        if c == '/' {
            break;
        }
        chars.next();
        if c == '*' {
            if let Some(last) = privileges.last_mut() {
                let (_, g): &mut (char, bool) = last;
                *g = true;
            }
        } else {
            privileges.push((c, false));
        }
    }
    if chars.next() != Some('/') {
        return None;
    }
    let grantor = name(&mut chars, '\0');
    Some(AclItem {
        grantee: if grantee.is_empty() {
            None
        } else {
            Some(grantee)
        },
        grantor,
        privileges,
    })
}

fn privilege_name(c: char) -> Option<&'static str> {
    Some(match c {
        'r' => "SELECT",
        'w' => "UPDATE",
        'a' => "INSERT",
        'd' => "DELETE",
        'D' => "TRUNCATE",
        'x' => "REFERENCES",
        't' => "TRIGGER",
        'X' => "EXECUTE",
        'U' => "USAGE",
        'C' => "CREATE",
        'c' => "CONNECT",
        'T' => "TEMPORARY",
        's' => "SET",
        'A' => "ALTER SYSTEM",
        'm' => "MAINTAIN",
        _ => return None,
    })
}

/// GRANT / REVOKE statements that turn the target's default privileges of a freshly created
/// object into `acl` (the source's `relacl` / `proacl` / ... as text items).
///
/// `keyword_object` is what follows `ON` (e.g. `TABLE "s"."t"`, `FUNCTION "s"."f"(integer)`),
/// `owner` the object's owner, and `default_acl` the server's `acldefault()` for this kind and
/// owner, as text items. `None` for `acl` means the default privileges: nothing to do.
/// `columns` qualifies column privileges (`SELECT ("c")`).
///
/// A default entry the source still has unchanged (the owner's own, usually) is left to the
/// target's default rather than revoked and granted again by name, and one it changed loses
/// only the source default's privileges, by name: a newer major's default holds privileges the
/// source's could not (`MAINTAIN` since 17), and the owner keeps them, as pg_dump leaves them.
pub fn acl_sql(
    keyword_object: &str,
    owner: &str,
    acl: Option<&[String]>,
    default_acl: &[String],
    column: Option<&str>,
) -> Vec<String> {
    let Some(acl) = acl else {
        return Vec::new();
    };
    let parsed: Vec<AclItem> = acl.iter().filter_map(|a| parse_aclitem(a)).collect();
    let defaults: Vec<AclItem> = default_acl
        .iter()
        .filter_map(|a| parse_aclitem(a))
        .collect();
    if column.is_none() && parsed == defaults {
        return Vec::new();
    }
    let col = column
        .map(|c| format!(" ({})", quote_ident(c)))
        .unwrap_or_default();
    let who = |g: &Option<String>| match g {
        Some(r) => quote_ident(r),
        None => "PUBLIC".to_string(),
    };
    let mut out = Vec::new();
    // Start from the defaults the source kept: revoke the others (owner and PUBLIC).
    let kept =
        |item: &AclItem| column.is_none() && defaults.contains(item) && parsed.contains(item);
    for d in defaults.iter().filter(|d| !kept(d)) {
        if column.is_none() {
            // The default's own privileges by name, as pg_dump revokes them: what a newer
            // major's default holds beyond them (MAINTAIN) stays.
            let names: Option<Vec<&str>> = d
                .privileges
                .iter()
                .map(|(c, _)| privilege_name(*c))
                .collect();
            let what = match names {
                Some(n) if !n.is_empty() => n.join(", "),
                _ => "ALL".to_string(),
            };
            out.push(format!(
                "REVOKE {what} ON {keyword_object} FROM {}",
                who(&d.grantee)
            ));
        }
    }
    for item in parsed.iter().filter(|i| !kept(i)) {
        let plain: Vec<&str> = item
            .privileges
            .iter()
            .filter(|(_, g)| !g)
            .filter_map(|(c, _)| privilege_name(*c))
            .collect();
        let with_grant: Vec<&str> = item
            .privileges
            .iter()
            .filter(|(_, g)| *g)
            .filter_map(|(c, _)| privilege_name(*c))
            .collect();
        let grantor_is_owner = item.grantor == owner;
        let wrap = |stmt: String| {
            if grantor_is_owner {
                stmt
            } else {
                // Grants made by someone else than the owner are replayed as that role, like
                // pg_dump does, so the grantor recorded in the target is the same.
                format!(
                    "{SET_ROLE}{}; {stmt}; RESET ROLE",
                    quote_ident(&item.grantor)
                )
            }
        };
        let fmt_privs = |p: &[&str]| {
            p.iter()
                .map(|p| format!("{p}{col}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !plain.is_empty() {
            out.push(wrap(format!(
                "GRANT {} ON {keyword_object} TO {}",
                fmt_privs(&plain),
                who(&item.grantee)
            )));
        }
        if !with_grant.is_empty() {
            out.push(wrap(format!(
                "GRANT {} ON {keyword_object} TO {} WITH GRANT OPTION",
                fmt_privs(&with_grant),
                who(&item.grantee)
            )));
        }
    }
    out
}

/// GRANT / REVOKE statements that change `initial` into `acl` item by item, for objects this
/// run does not create (members of an extension, whose script left `initial`, recorded in
/// `pg_init_privs`): only what the source changed is replayed, as pg_dump does, so entries the
/// two sides share (the owner's own, a provider's grant to the migration user) are left alone.
/// Grants made by another role than `owner` are replayed as that role, as in [`acl_sql`].
pub fn acl_delta_sql(
    keyword_object: &str,
    owner: &str,
    acl: &[String],
    initial: &[String],
) -> Vec<String> {
    let items = |v: &[String]| -> Vec<(Option<String>, char, bool, String)> {
        v.iter()
            .filter_map(|a| parse_aclitem(a))
            .flat_map(|i| {
                i.privileges
                    .iter()
                    .map(|(p, g)| (i.grantee.clone(), *p, *g, i.grantor.clone()))
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let (now, before) = (items(acl), items(initial));
    let who = |g: &Option<String>| match g {
        Some(r) => quote_ident(r),
        None => "PUBLIC".to_string(),
    };
    let mut out = Vec::new();
    for (grantee, p, _, _) in &before {
        let kept = now.iter().any(|(g, q, _, _)| g == grantee && q == p);
        if let (false, Some(name)) = (kept, privilege_name(*p)) {
            out.push(format!(
                "REVOKE {name} ON {keyword_object} FROM {}",
                who(grantee)
            ));
        }
    }
    for item in &now {
        let (grantee, p, grant_option, grantor) = item;
        let same = before
            .iter()
            .any(|(g, q, o, _)| g == grantee && q == p && o == grant_option);
        let Some(name) = privilege_name(*p) else {
            continue;
        };
        if same {
            continue;
        }
        let stmt = format!(
            "GRANT {name} ON {keyword_object} TO {}{}",
            who(grantee),
            if *grant_option {
                " WITH GRANT OPTION"
            } else {
                ""
            }
        );
        out.push(if grantor == owner {
            stmt
        } else {
            format!("{SET_ROLE}{}; {stmt}; RESET ROLE", quote_ident(grantor))
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_object_carries_its_rare_parts_behind_one_pointer() {
        // 400,000 objects at 100,000 tables: each 8 bytes here is 3 MB of the peak.
        assert!(std::mem::size_of::<SchemaObject>() <= 160);
        let mut o = SchemaObject::new(
            ObjId::new(class::PG_CLASS, 1),
            ObjectKind::Index,
            Section::PostData,
            Some("s"),
            "i",
        );
        o.extend_acl(Vec::new());
        o.extend_comments(None);
        o.set_tablespace(None);
        assert!(o.rare.is_none(), "nothing to keep, nothing kept");
        o.extend_comments(Some("COMMENT ON INDEX \"s\".\"i\" IS 'x'".to_string()));
        o.set_comments(Vec::new());
        o.shrink();
        assert!(o.rare.is_none(), "emptied rare parts are given back");
        o.set_tablespace(Some("fast".into()));
        o.shrink();
        assert_eq!(o.tablespace(), Some("fast"));
        assert!(o.acl().is_empty() && o.comments().is_empty() && o.options().is_empty());
    }

    #[test]
    fn aclitems_parse_with_quoted_names_and_grant_options() {
        let a = parse_aclitem(r#""we""ird user"=r*w/owner"#).unwrap();
        assert_eq!(a.grantee.as_deref(), Some("we\"ird user"));
        assert_eq!(a.grantor, "owner");
        assert_eq!(a.privileges, vec![('r', true), ('w', false)]);
        let p = parse_aclitem("=U/\"Own er\"").unwrap();
        assert_eq!(p.grantee, None);
        assert_eq!(p.grantor, "Own er");
        assert!(parse_aclitem("garbage").is_none());
    }

    #[test]
    fn extension_members_get_only_what_the_source_changed() {
        let initial = vec!["postgres=U/postgres".to_string()];
        let acl = vec![
            "postgres=U/postgres".to_string(),
            "app=U/postgres".to_string(),
            "ops=U*/app".to_string(),
        ];
        assert_eq!(
            acl_delta_sql("FOREIGN DATA WRAPPER \"w\"", "postgres", &acl, &initial),
            vec![
                "GRANT USAGE ON FOREIGN DATA WRAPPER \"w\" TO \"app\"".to_string(),
                format!(
                    "{SET_ROLE}\"app\"; GRANT USAGE ON FOREIGN DATA WRAPPER \"w\" TO \"ops\" \
                     WITH GRANT OPTION; RESET ROLE"
                ),
            ]
        );
        // A hardening REVOKE of the extension's default grant to PUBLIC.
        let initial = vec!["o=X/o".to_string(), "=X/o".to_string()];
        assert_eq!(
            acl_delta_sql("FUNCTION \"f\"()", "o", &initial[..1], &initial),
            vec!["REVOKE EXECUTE ON FUNCTION \"f\"() FROM PUBLIC".to_string()]
        );
        assert!(acl_delta_sql("FUNCTION \"f\"()", "o", &initial, &initial).is_empty());
    }

    #[test]
    fn default_acls_need_no_statements() {
        let d = vec!["o=arwdDxt/o".to_string()];
        assert!(acl_sql("TABLE \"t\"", "o", Some(&d), &d, None).is_empty());
        assert!(acl_sql("TABLE \"t\"", "o", None, &d, None).is_empty());
    }

    #[test]
    fn acls_are_rebuilt_from_the_defaults_the_source_kept() {
        let d = vec!["o=X/o".to_string(), "=X/o".to_string()];
        let acl = vec!["o=X/o".to_string(), "alice=X*/o".to_string()];
        let sql = acl_sql("FUNCTION \"f\"()", "o", Some(&acl), &d, None);
        // The owner's entry is the default: left to the target's (a newer major's may hold
        // more, e.g. MAINTAIN on tables).
        assert_eq!(
            sql,
            vec![
                "REVOKE EXECUTE ON FUNCTION \"f\"() FROM PUBLIC",
                "GRANT EXECUTE ON FUNCTION \"f\"() TO \"alice\" WITH GRANT OPTION",
            ]
        );
    }

    #[test]
    fn a_changed_default_loses_only_its_own_privileges_by_name() {
        // PostgreSQL 15's table owner without DELETE: on 17+ the owner keeps MAINTAIN.
        let d = vec!["o=arwdDxt/o".to_string()];
        let acl = vec!["o=arwDxt/o".to_string()];
        assert_eq!(
            acl_sql("TABLE \"t\"", "o", Some(&acl), &d, None),
            vec![
                "REVOKE INSERT, SELECT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON TABLE \"t\" \
                 FROM \"o\"",
                "GRANT INSERT, SELECT, UPDATE, TRUNCATE, REFERENCES, TRIGGER ON TABLE \"t\" TO \"o\"",
            ]
        );
    }

    #[test]
    fn column_privileges_name_the_column() {
        let acl = vec!["bob=rw/o".to_string()];
        let sql = acl_sql("TABLE \"t\"", "o", Some(&acl), &[], Some("c"));
        assert_eq!(
            sql,
            vec!["GRANT SELECT (\"c\"), UPDATE (\"c\") ON TABLE \"t\" TO \"bob\""]
        );
    }
}
