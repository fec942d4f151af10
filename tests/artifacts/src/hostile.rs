//! Components shaped to make a compiler work hard — many functions, one
//! huge function, huge data segments and custom sections, modules nested
//! in components — generated in the test build with `wasm-encoder`, at any
//! size a test asks for, so no such binary is ever committed.
//!
//! Function bodies are straight lines of `nop`s: what matters to the
//! checks under test is their size and number, and a body that is small
//! enough to be admitted still compiles quickly. A body can instead keep
//! many values live at once ([`CoreModule::pressure`]), which makes the
//! register allocator work hard: a body that is small enough to be admitted
//! that compiles slowly and in much memory.

use wasm_encoder::{
    CodeSection, Component, ComponentSectionId, ConstExpr, CustomSection, DataSection, Function,
    FunctionSection, GlobalSection, GlobalType, Instruction, Module, RawSection, TypeSection,
    ValType,
};

/// A core module to generate.
#[derive(Clone, Debug, Default)]
pub struct CoreModule {
    /// Functions it defines, each of type `[] -> []`.
    pub functions: u32,
    /// Bytes of each function body (its locals and code, not the size
    /// prefix); at least 2.
    pub body: usize,
    /// One passive data segment of each of these sizes.
    pub data: Vec<usize>,
    /// Custom sections: (name, bytes of content).
    pub custom: Vec<(String, usize)>,
    /// If not 0, each function body computes this many distinct values from
    /// a global, all live at once, then sums them (and `body` is ignored).
    pub live: u32,
}

impl CoreModule {
    /// `n` functions of `body` bytes each.
    pub fn functions(n: u32, body: usize) -> CoreModule {
        CoreModule {
            functions: n,
            body,
            ..CoreModule::default()
        }
    }

    /// One function, `body` bytes long.
    pub fn one_function(body: usize) -> CoreModule {
        CoreModule::functions(1, body)
    }

    /// `n` functions, each keeping `values` distinct values live at once:
    /// about 7 bytes of body per value.
    pub fn pressure(n: u32, values: u32) -> CoreModule {
        CoreModule {
            functions: n,
            live: values,
            ..CoreModule::default()
        }
    }

    /// Data segments of these sizes, and no functions.
    pub fn data(segments: &[usize]) -> CoreModule {
        CoreModule {
            data: segments.to_vec(),
            ..CoreModule::default()
        }
    }

    /// A custom section `name` of `bytes` bytes, and nothing else.
    pub fn custom(name: &str, bytes: usize) -> CoreModule {
        CoreModule {
            custom: vec![(name.to_owned(), bytes)],
            ..CoreModule::default()
        }
    }

    /// The module's binary encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut module = Module::new();
        if self.functions > 0 {
            let mut types = TypeSection::new();
            types.ty().function([], []);
            module.section(&types);
            let mut functions = FunctionSection::new();
            for _ in 0..self.functions {
                functions.function(0);
            }
            module.section(&functions);
        }
        if self.live > 0 {
            // A mutable global the bodies read, so nothing folds to a constant.
            let mut globals = GlobalSection::new();
            let ty = GlobalType {
                val_type: ValType::I64,
                mutable: true,
                shared: false,
            };
            globals.global(ty, &ConstExpr::i64_const(3));
            module.section(&globals);
        }
        if self.functions > 0 {
            let mut body = Function::new([]);
            if self.live > 0 {
                for k in 0..self.live {
                    body.instruction(&Instruction::GlobalGet(0));
                    body.instruction(&Instruction::I64Const(i64::from(k) + 2));
                    body.instruction(&Instruction::I64Mul);
                }
                for _ in 1..self.live {
                    body.instruction(&Instruction::I64Add);
                }
                body.instruction(&Instruction::GlobalSet(0));
                body.instruction(&Instruction::End);
            } else {
                // No locals, `nop`s, `end`.
                body.raw(std::iter::repeat_n(0x01, self.body.max(2) - 2));
                body.raw([0x0b]);
            }
            let mut code = CodeSection::new();
            for _ in 0..self.functions {
                code.function(&body);
            }
            module.section(&code);
        }
        if !self.data.is_empty() {
            let mut data = DataSection::new();
            for &size in &self.data {
                data.passive(std::iter::repeat_n(0u8, size));
            }
            module.section(&data);
        }
        for (name, size) in &self.custom {
            module.section(&CustomSection {
                name: name.into(),
                data: vec![0u8; *size].into(),
            });
        }
        module.finish()
    }
}

/// A part of a generated component.
#[derive(Clone, Debug)]
pub enum Part {
    /// A core module.
    Module(CoreModule),
    /// A component nested in it.
    Nested(Vec<Part>),
    /// A custom section at the component's level: (name, bytes).
    Custom(String, usize),
}

/// A component made of `parts`, with `manifest` as its `airlock-manifest`
/// custom section if given.
pub fn component(parts: &[Part], manifest: Option<&str>) -> Vec<u8> {
    let mut c = encode_parts(parts);
    if let Some(text) = manifest {
        c.section(&CustomSection {
            name: "airlock-manifest".into(),
            data: text.as_bytes().into(),
        });
    }
    c.finish()
}

fn encode_parts(parts: &[Part]) -> Component {
    let mut c = Component::new();
    for part in parts {
        match part {
            Part::Module(m) => {
                let bytes = m.encode();
                c.section(&RawSection {
                    id: ComponentSectionId::CoreModule as u8,
                    data: &bytes,
                });
            }
            Part::Nested(inner) => {
                let bytes = encode_parts(inner).finish();
                c.section(&RawSection {
                    id: ComponentSectionId::Component as u8,
                    data: &bytes,
                });
            }
            Part::Custom(name, size) => {
                c.section(&CustomSection {
                    name: name.into(),
                    data: vec![0u8; *size].into(),
                });
            }
        }
    }
    c
}

/// A component holding just `module`, with `manifest` embedded if given.
pub fn wrapping(module: CoreModule, manifest: Option<&str>) -> Vec<u8> {
    component(&[Part::Module(module)], manifest)
}
