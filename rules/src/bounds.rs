//! Ceilings on what compiling a component costs, checked by parsing it
//! before anything is compiled.
//!
//! Compiling cannot be stopped once it has started — Cranelift has no
//! interruption point, and wasmtime compiles a component's functions on
//! every core at once — and its time and memory grow with the number of
//! functions and the size of each body. The run's timeout and memory grant
//! do not apply to it. So before a component is compiled, [`check`] walks
//! it with `wasmparser`, reading section headers and sizes (never decoding
//! or validating code), and holds what it finds to the policy's
//! [`CompileCeilings`]. A component beyond one is refused with the measure,
//! the ceiling, and the policy key that raises it.
//!
//! The walk is linear in the component's size, which is checked first; a
//! caller that reads the component from a file checks the file's length
//! with [`check_size`] before reading it.
//!
//! Nothing here depends on wasmtime; reading a file ([`read_file`]) is the
//! only I/O.

use crate::policy::CompileCeilings;
use crate::units::ByteSize;
use serde::Serialize;
use std::fmt;
use wasmparser::{Encoding, Parser, Payload};

/// What a component asks of the compiler, at every level: its core
/// modules, those of nested components included.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Measures {
    /// Size of the component.
    pub bytes: u64,
    /// Core modules.
    pub modules: u64,
    /// The largest core module.
    pub largest_module: Option<Item>,
    /// Functions defined by all core modules.
    pub functions: u64,
    /// The largest function body.
    pub largest_function: Option<Item>,
    /// Bytes of all function bodies (their locals and code).
    pub code: u64,
    /// The largest data segment.
    pub largest_data_segment: Option<Item>,
    /// Bytes of all data segments.
    pub data: u64,
    /// The largest custom section.
    pub largest_custom_section: Option<Item>,
}

/// The largest part of a kind, and where it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Item {
    /// Where it is, like `function body 3 of core module 1`.
    pub at: String,
    /// Its size in bytes.
    pub bytes: u64,
}

/// Which ceiling a component is beyond.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    /// The component's size.
    Component,
    /// One core module's size.
    Module,
    /// The number of core modules.
    Modules,
    /// The number of functions defined.
    Functions,
    /// One function body's size.
    Function,
    /// All function bodies' size.
    Code,
    /// One data segment's size.
    DataSegment,
    /// All data segments' size.
    Data,
    /// One custom section's size.
    CustomSection,
}

impl Limit {
    /// Its key under `[compile]` in the policy.
    pub fn key(self) -> &'static str {
        match self {
            Limit::Component => "component",
            Limit::Module => "module",
            Limit::Modules => "modules",
            Limit::Functions => "functions",
            Limit::Function => "function",
            Limit::Code => "code",
            Limit::DataSegment => "data_segment",
            Limit::Data => "data",
            Limit::CustomSection => "custom_section",
        }
    }

    /// Whether it counts things rather than bytes.
    fn is_count(self) -> bool {
        matches!(self, Limit::Modules | Limit::Functions)
    }
}

/// A component beyond one of the ceilings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Exceeded {
    /// The ceiling.
    pub limit: Limit,
    /// What was measured, in words: `the size of function body 0 of core
    /// module 0`.
    pub what: String,
    /// Its measure: bytes, or a count.
    pub measured: u64,
    /// The ceiling it is beyond.
    pub ceiling: u64,
}

impl fmt::Display for Exceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = self.limit.key();
        if self.limit.is_count() {
            write!(f, "{} is {}", self.what, self.measured)?;
            write!(f, ", over the ceiling of {}", self.ceiling)?;
        } else {
            write!(f, "{} is {} bytes", self.what, self.measured)?;
            write!(f, ", over the ceiling of {}", ByteSize(self.ceiling))?;
        }
        write!(
            f,
            ": raise `{key}` under [compile] in the policy to admit it"
        )
    }
}

impl std::error::Error for Exceeded {}

/// Why a component cannot be admitted to the compiler.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BoundsError {
    /// It is beyond a ceiling.
    #[error("{0}")]
    Exceeded(Exceeded),
    /// It is not a component `wasmparser` can walk.
    #[error("{0}")]
    Malformed(String),
}

impl BoundsError {
    /// The refusal of the component read from `origin`.
    pub fn refusal(self, origin: &str) -> crate::Refusal {
        match self {
            BoundsError::Exceeded(exceeded) => crate::Refusal::OverCeiling {
                origin: origin.into(),
                exceeded,
            },
            BoundsError::Malformed(reason) => crate::Refusal::InvalidComponent {
                origin: origin.into(),
                reason,
            },
        }
    }
}

/// Read the component file at `path`, refusing it unread if its length
/// is beyond the size ceiling (and reading no further than the ceiling if
/// it grows meanwhile).
pub fn read_file(
    path: &std::path::Path,
    ceilings: &CompileCeilings,
) -> std::io::Result<Result<Vec<u8>, Exceeded>> {
    if let Err(e) = check_size(std::fs::metadata(path)?.len(), ceilings) {
        return Ok(Err(e));
    }
    // A regular file only, read without blocking and no further than the
    // ceiling (it may have grown since it was measured).
    let bytes = crate::opfile::read_operator_file(path, ceilings.component, "component")?;
    Ok(check_size(bytes.len() as u64, ceilings).map(|()| bytes))
}

/// Check a component of `bytes` bytes against the size ceiling — before
/// reading it, where its length is known first.
pub fn check_size(bytes: u64, ceilings: &CompileCeilings) -> Result<(), Exceeded> {
    over(Limit::Component, "its size", bytes, ceilings.component.0)
}

/// Measure `component` and hold it to `ceilings`; its measures if it is
/// within all of them.
pub fn check(component: &[u8], ceilings: &CompileCeilings) -> Result<Measures, BoundsError> {
    check_size(component.len() as u64, ceilings).map_err(BoundsError::Exceeded)?;
    let measures = measure(component).map_err(BoundsError::Malformed)?;
    measures.check(ceilings).map_err(BoundsError::Exceeded)?;
    Ok(measures)
}

fn over(limit: Limit, what: &str, measured: u64, ceiling: u64) -> Result<(), Exceeded> {
    if measured <= ceiling {
        return Ok(());
    }
    Err(Exceeded {
        limit,
        what: what.to_owned(),
        measured,
        ceiling,
    })
}

impl Measures {
    /// Hold these measures to `ceilings`: the first one beyond its ceiling,
    /// in the order of the fields of [`CompileCeilings`].
    pub fn check(&self, c: &CompileCeilings) -> Result<(), Exceeded> {
        let largest = |limit: Limit, item: &Option<Item>, ceiling: ByteSize| match item {
            Some(i) => over(limit, &format!("the size of {}", i.at), i.bytes, ceiling.0),
            None => Ok(()),
        };
        check_size(self.bytes, c)?;
        largest(Limit::Module, &self.largest_module, c.module)?;
        over(
            Limit::Modules,
            "the number of its core modules",
            self.modules,
            c.modules,
        )?;
        over(
            Limit::Functions,
            "the number of functions its core modules define",
            self.functions,
            c.functions,
        )?;
        largest(Limit::Function, &self.largest_function, c.function)?;
        over(
            Limit::Code,
            "the size of all its function bodies",
            self.code,
            c.code.0,
        )?;
        largest(
            Limit::DataSegment,
            &self.largest_data_segment,
            c.data_segment,
        )?;
        over(
            Limit::Data,
            "the size of all its data segments",
            self.data,
            c.data.0,
        )?;
        largest(
            Limit::CustomSection,
            &self.largest_custom_section,
            c.custom_section,
        )
    }
}

/// Keep `(at, bytes)` in `slot` if it is larger than what is there.
fn keep_largest(slot: &mut Option<Item>, bytes: u64, at: impl FnOnce() -> String) {
    if slot.as_ref().is_none_or(|i| bytes > i.bytes) {
        *slot = Some(Item { at: at(), bytes });
    }
}

/// Measure `component`, at every level, without decoding its code.
pub fn measure(component: &[u8]) -> Result<Measures, String> {
    let mut m = Measures {
        bytes: component.len() as u64,
        ..Measures::default()
    };
    // The open levels: the component, nested components, a core module.
    let mut scopes: Vec<String> = Vec::new();
    let (mut modules, mut components) = (0u64, 0u64);
    // Of the open core module: functions declared, bodies seen.
    let (mut declared, mut bodies) = (0u64, 0u64);
    for payload in Parser::new(0).parse_all(component) {
        let payload = payload.map_err(|e| format!("not a WebAssembly component: {e}"))?;
        let scope = || scopes.last().cloned().unwrap_or_default();
        match payload {
            Payload::Version { encoding, .. } if scopes.is_empty() => {
                if encoding != Encoding::Component {
                    return Err("a core module, not a component: build for wasm32-wasip2".into());
                }
                scopes.push("the component".into());
            }
            Payload::ModuleSection {
                unchecked_range, ..
            } => {
                let at = format!("core module {modules}");
                modules += 1;
                m.modules += 1;
                let size = unchecked_range.len() as u64;
                keep_largest(&mut m.largest_module, size, || at.clone());
                scopes.push(at);
                (declared, bodies) = (0, 0);
            }
            Payload::ComponentSection { .. } => {
                scopes.push(format!("nested component {components}"));
                components += 1;
            }
            Payload::End(_) => {
                scopes.pop();
            }
            Payload::FunctionSection(reader) => {
                let count = u64::from(reader.count());
                m.functions += count.saturating_sub(declared);
                declared = declared.max(count);
            }
            Payload::CodeSectionStart { count, .. } => {
                let count = u64::from(count);
                m.functions += count.saturating_sub(declared);
                declared = declared.max(count);
            }
            Payload::CodeSectionEntry(body) => {
                let size = body.range().len() as u64;
                m.code += size;
                keep_largest(&mut m.largest_function, size, || {
                    format!("function body {bodies} of {}", scope())
                });
                bodies += 1;
            }
            Payload::DataSection(reader) => {
                for (i, data) in reader.into_iter().enumerate() {
                    let data = data.map_err(|e| format!("not a WebAssembly component: {e}"))?;
                    let size = data.data.len() as u64;
                    m.data += size;
                    keep_largest(&mut m.largest_data_segment, size, || {
                        format!("data segment {i} of {}", scope())
                    });
                }
            }
            Payload::CustomSection(c) => {
                let size = c.data().len() as u64;
                keep_largest(&mut m.largest_custom_section, size, || {
                    format!(
                        "custom section `{}` of {}",
                        crate::doc::one_line(c.name()).escape_debug(),
                        scope()
                    )
                });
            }
            _ => {}
        }
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use airlock_test_artifacts::hostile::{self, CoreModule, Part};

    fn module(m: CoreModule) -> Part {
        Part::Module(m)
    }

    fn custom(name: &str, bytes: usize) -> Part {
        Part::Custom(name.into(), bytes)
    }

    type Tighten = fn(&mut CompileCeilings);

    /// A case: its name, the component's parts, the ceiling tightened, and
    /// the refusal expected (the limit and the measure), if any.
    type Case = (&'static str, Vec<Part>, Tighten, Option<(Limit, u64)>);

    /// Each ceiling tightened alone (the others at their defaults), with a
    /// component just within it and one just beyond.
    #[test]
    fn each_ceiling_admits_up_to_it_and_refuses_beyond() {
        let cases: &[Case] = &[
            (
                "functions, at the ceiling",
                vec![module(CoreModule::functions(100, 2))],
                |c| c.functions = 100,
                None,
            ),
            (
                "functions, one over",
                vec![module(CoreModule::functions(101, 2))],
                |c| c.functions = 100,
                Some((Limit::Functions, 101)),
            ),
            (
                "functions, counted across modules",
                vec![
                    module(CoreModule::functions(60, 2)),
                    module(CoreModule::functions(41, 2)),
                ],
                |c| c.functions = 100,
                Some((Limit::Functions, 101)),
            ),
            (
                "functions, counted in a nested component",
                vec![
                    module(CoreModule::functions(60, 2)),
                    Part::Nested(vec![module(CoreModule::functions(41, 2))]),
                ],
                |c| c.functions = 100,
                Some((Limit::Functions, 101)),
            ),
            (
                "function body, at the ceiling",
                vec![module(CoreModule::one_function(1000))],
                |c| c.function = ByteSize(1000),
                None,
            ),
            (
                "function body, one byte over",
                vec![module(CoreModule::one_function(1001))],
                |c| c.function = ByteSize(1000),
                Some((Limit::Function, 1001)),
            ),
            (
                "function body, in a module of a nested component",
                vec![Part::Nested(vec![Part::Nested(vec![module(
                    CoreModule::one_function(1001),
                )])])],
                |c| c.function = ByteSize(1000),
                Some((Limit::Function, 1001)),
            ),
            (
                "code, within",
                vec![module(CoreModule::functions(20, 800))],
                |c| c.code = ByteSize(16 * 1024),
                None,
            ),
            (
                "code, over across modules",
                vec![
                    module(CoreModule::functions(20, 800)),
                    module(CoreModule::functions(1, 800)),
                ],
                |c| c.code = ByteSize(16 * 1024),
                Some((Limit::Code, 21 * 800)),
            ),
            (
                "data segment, at the ceiling",
                vec![module(CoreModule::data(&[4096, 4096]))],
                |c| c.data_segment = ByteSize(4096),
                None,
            ),
            (
                "data segment, one byte over",
                vec![module(CoreModule::data(&[10, 4097]))],
                |c| c.data_segment = ByteSize(4096),
                Some((Limit::DataSegment, 4097)),
            ),
            (
                "data, at the ceiling",
                vec![module(CoreModule::data(&[4096, 4096]))],
                |c| c.data = ByteSize(8192),
                None,
            ),
            (
                "data, over across modules",
                vec![
                    module(CoreModule::data(&[4096, 4096])),
                    Part::Nested(vec![module(CoreModule::data(&[1]))]),
                ],
                |c| c.data = ByteSize(8192),
                Some((Limit::Data, 8193)),
            ),
            (
                "custom section in a module, at the ceiling",
                vec![module(CoreModule::custom("name", 2048))],
                |c| c.custom_section = ByteSize(2048),
                None,
            ),
            (
                "custom section in a module, one byte over",
                vec![module(CoreModule::custom("junk", 2049))],
                |c| c.custom_section = ByteSize(2048),
                Some((Limit::CustomSection, 2049)),
            ),
            (
                "custom section of the component",
                vec![custom("junk", 2049)],
                |c| c.custom_section = ByteSize(2048),
                Some((Limit::CustomSection, 2049)),
            ),
            (
                "custom section of a nested component",
                vec![Part::Nested(vec![custom("junk", 2049)])],
                |c| c.custom_section = ByteSize(2048),
                Some((Limit::CustomSection, 2049)),
            ),
            (
                "modules, at the ceiling",
                vec![
                    module(CoreModule::default()),
                    Part::Nested(vec![module(CoreModule::default())]),
                ],
                |c| c.modules = 2,
                None,
            ),
            (
                "modules, one over, one of them nested",
                vec![
                    module(CoreModule::default()),
                    module(CoreModule::default()),
                    Part::Nested(vec![module(CoreModule::default())]),
                ],
                |c| c.modules = 2,
                Some((Limit::Modules, 3)),
            ),
            (
                "module size, within",
                vec![module(CoreModule::data(&[3000]))],
                |c| c.module = ByteSize(4096),
                None,
            ),
            (
                "module size, over",
                vec![
                    module(CoreModule::data(&[3000])),
                    Part::Nested(vec![module(CoreModule::data(&[5000]))]),
                ],
                |c| c.module = ByteSize(4096),
                // 5000 bytes of data, its length (2), the segment's flag (1),
                // the section's count (1), id (1) and size (2), the header (8).
                Some((Limit::Module, 5000 + 2 + 1 + 1 + 1 + 2 + 8)),
            ),
        ];
        for (name, parts, tighten, expected) in cases {
            let component = hostile::component(parts, None);
            let mut ceilings = CompileCeilings::default();
            tighten(&mut ceilings);
            let result = check(&component, &ceilings);
            match (expected, result) {
                (None, Ok(_)) => {}
                (Some((limit, measured)), Err(BoundsError::Exceeded(e))) => {
                    assert_eq!((e.limit, e.measured), (*limit, *measured), "{name}: {e}");
                    // Under the defaults, every case here is admitted.
                    check(&component, &CompileCeilings::default())
                        .unwrap_or_else(|e| panic!("{name}, under the defaults: {e}"));
                }
                (expected, got) => panic!("{name}: expected {expected:?}, got {got:?}"),
            }
        }
    }

    #[test]
    fn the_component_size_is_checked_before_it_is_walked() {
        let component = hostile::component(&[module(CoreModule::functions(3, 10))], None);
        let len = component.len() as u64;
        let mut c = CompileCeilings {
            component: ByteSize(len),
            ..CompileCeilings::default()
        };
        assert!(check(&component, &c).is_ok());
        c.component = ByteSize(len - 1);
        let e = check_size(len, &c).unwrap_err();
        assert_eq!((e.limit, e.measured), (Limit::Component, len));
        assert_eq!(check(&component, &c), Err(BoundsError::Exceeded(e)));
        // Garbage beyond the ceiling is refused for its size alone.
        let garbage = vec![0xffu8; 100];
        c.component = ByteSize(99);
        assert!(matches!(
            check(&garbage, &c),
            Err(BoundsError::Exceeded(Exceeded {
                limit: Limit::Component,
                ..
            }))
        ));
    }

    /// The shapes the adversarial campaign found, at their sizes, refused
    /// under the default ceilings by parsing alone.
    #[test]
    fn the_campaign_bombs_are_refused_under_the_defaults() {
        let d = CompileCeilings::default();
        let refused = |component: &[u8]| match check(component, &d) {
            Err(BoundsError::Exceeded(e)) => e,
            other => panic!("admitted: {other:?}"),
        };
        // 600,000 functions in 4 MB.
        let many = hostile::wrapping(CoreModule::functions(600_000, 5), None);
        assert!(many.len() < 5 << 20);
        let e = refused(&many);
        assert_eq!((e.limit, e.measured), (Limit::Functions, 600_000));
        // One straight-line function of 7 MB, just under wasmparser's
        // own limit.
        let huge = hostile::wrapping(CoreModule::one_function(7_000_000), None);
        let e = refused(&huge);
        assert_eq!((e.limit, e.measured), (Limit::Function, 7_000_000));
        // A 200 MB data segment and a 100 MB custom section are refused
        // for the component's size, from the file's length.
        assert_eq!(
            check_size(200 << 20, &d).unwrap_err().limit,
            Limit::Component
        );
        assert_eq!(
            check_size(100 << 20, &d).unwrap_err().limit,
            Limit::Component
        );
        // Within the component's size, still refused.
        let data = hostile::wrapping(CoreModule::data(&[33 << 20]), None);
        assert_eq!(refused(&data).limit, Limit::DataSegment);
        let custom = hostile::component(&[custom("junk", 33 << 20)], None);
        assert_eq!(refused(&custom).limit, Limit::CustomSection);
    }

    #[test]
    fn a_refusal_names_what_its_measure_its_ceiling_and_the_key() {
        let component = hostile::component(
            &[
                module(CoreModule::default()),
                Part::Nested(vec![module(CoreModule::functions(3, 2000))]),
            ],
            None,
        );
        let mut c = CompileCeilings {
            function: ByteSize::kib(1),
            ..CompileCeilings::default()
        };
        let e = check(&component, &c).unwrap_err().to_string();
        assert_eq!(
            e,
            "the size of function body 0 of core module 1 is 2000 bytes, over the ceiling of \
             1 KiB: raise `function` under [compile] in the policy to admit it"
        );
        c = CompileCeilings::default();
        c.functions = 2;
        let e = check(&component, &c).unwrap_err().to_string();
        assert_eq!(
            e,
            "the number of functions its core modules define is 3, over the ceiling of 2: \
             raise `functions` under [compile] in the policy to admit it"
        );
        c = CompileCeilings::default();
        c.custom_section = ByteSize(1);
        let named = hostile::component(&[custom("bad\nname", 2)], None);
        let e = check(&named, &c).unwrap_err().to_string();
        assert!(
            e.starts_with("the size of custom section `bad name` of the component is 2 bytes"),
            "{e}"
        );
    }

    #[test]
    fn what_is_not_a_component_is_malformed() {
        let d = CompileCeilings::default();
        let core = CoreModule::functions(1, 2).encode();
        let cases: [(&str, &[u8]); 3] = [
            ("a core module", &core),
            ("garbage", b"not wasm at all"),
            ("empty", b""),
        ];
        for (name, bytes) in cases {
            assert!(
                matches!(check(bytes, &d), Err(BoundsError::Malformed(_))),
                "{name}"
            );
        }
        // Cut short inside a module: malformed, not admitted.
        let whole = hostile::wrapping(CoreModule::functions(10, 50), None);
        let cut = &whole[..whole.len() - 20];
        assert!(matches!(check(cut, &d), Err(BoundsError::Malformed(_))));
    }

    #[test]
    fn measures_report_the_largest_of_each_kind_and_where() {
        let component = hostile::component(
            &[
                module(CoreModule {
                    functions: 3,
                    body: 40,
                    data: vec![10, 30],
                    custom: vec![("a".into(), 5)],
                    ..CoreModule::default()
                }),
                Part::Nested(vec![module(CoreModule::one_function(90))]),
                custom("b", 7),
            ],
            None,
        );
        let m = measure(&component).unwrap();
        assert_eq!(m.modules, 2);
        assert_eq!(m.functions, 4);
        assert_eq!(m.data, 40);
        let at = |i: &Option<Item>| i.as_ref().map(|i| (i.at.clone(), i.bytes));
        assert_eq!(
            at(&m.largest_function),
            Some(("function body 0 of core module 1".into(), 90))
        );
        assert_eq!(
            at(&m.largest_data_segment),
            Some(("data segment 1 of core module 0".into(), 30))
        );
        assert_eq!(
            at(&m.largest_custom_section),
            Some(("custom section `b` of the component".into(), 7))
        );
    }
}
