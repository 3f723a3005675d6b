//! ELF reading on top of the `object` crate: sections, symbols and REL relocations, with every
//! failure turned into a [`LoadError`] that names the section, symbol or offset.

use object::elf;
use object::read::elf::{FileHeader, SectionHeader as _, Sym as _};
use object::LittleEndian as LE;

use crate::LoadError;

/// One relocation entry.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rel {
    /// Byte offset inside the target section.
    pub offset: u64,
    /// Symbol index.
    pub sym: usize,
}

/// One ELF section with its data and the relocations that apply to it.
#[derive(Debug)]
pub(crate) struct Section {
    pub index: usize,
    pub name: String,
    pub sh_type: u32,
    pub flags: u64,
    pub size: u64,
    /// Contents (empty for SHT_NOBITS).
    pub data: Vec<u8>,
    pub rels: Vec<Rel>,
}

impl Section {
    pub fn is_exec(&self) -> bool {
        self.sh_type == elf::SHT_PROGBITS && self.flags & u64::from(elf::SHF_EXECINSTR) != 0
    }
}

/// One symbol-table entry.
#[derive(Debug, Clone)]
pub(crate) struct Symbol {
    pub name: String,
    pub value: u64,
    pub size: u64,
    /// Section index (`st_shndx`).
    pub shndx: usize,
    pub st_type: u8,
    pub bind: u8,
}

impl Symbol {
    pub fn is_section(&self) -> bool {
        self.st_type == elf::STT_SECTION
    }
}

/// The parts of an ELF file the loader uses.
#[derive(Debug)]
pub(crate) struct Elf {
    pub sections: Vec<Section>,
    pub symbols: Vec<Symbol>,
}

/// The largest object file the loader reads, and the largest `SHT_NOBITS`
/// section (`.bss`) it allocates: 256 MiB.
pub(crate) const MAX_OBJECT_BYTES: usize = 256 << 20;
/// The most sections an object may have.
pub(crate) const MAX_SECTIONS: usize = 65_535;
/// The most relocation entries an object may have, over all its sections.
pub(crate) const MAX_RELOCATIONS: usize = 1 << 20;

fn elf_err(msg: impl Into<String>) -> LoadError {
    LoadError::Elf(msg.into())
}

impl Elf {
    pub fn parse(input: &[u8]) -> Result<Elf, LoadError> {
        // `object` reads headers in place and requires natural alignment: copy to an 8-aligned buffer.
        if input.len() > MAX_OBJECT_BYTES {
            return Err(elf_err(format!(
                "the object is {} bytes; ironbpf reads objects of at most {MAX_OBJECT_BYTES} bytes (MAX_OBJECT_BYTES)",
                input.len()
            )));
        }
        let mut buf = vec![0u8; input.len() + 8];
        let shift = buf.as_ptr().align_offset(8).min(8);
        let data: &[u8] = match buf.get_mut(shift..shift + input.len()) {
            Some(d) => {
                d.copy_from_slice(input);
                d
            }
            None => return Err(elf_err("cannot align the object in memory")),
        };

        if data.get(..4) != Some(b"\x7fELF") {
            return Err(elf_err("not an ELF file (bad magic at offset 0)"));
        }
        if data.len() < 64 {
            return Err(elf_err(format!(
                "ELF header is truncated: {} bytes, a 64-bit header needs 64",
                data.len()
            )));
        }
        let (class, encoding) = (data.get(4).copied(), data.get(5).copied());
        if class != Some(elf::ELFCLASS64) {
            return Err(elf_err(format!(
                "ELF class {} at offset 4 is not ELFCLASS64",
                class.unwrap_or(0)
            )));
        }
        if encoding != Some(elf::ELFDATA2LSB) {
            return Err(elf_err(format!(
                "ELF data encoding {} at offset 5 is not little-endian",
                encoding.unwrap_or(0)
            )));
        }
        let header = elf::FileHeader64::<LE>::parse(data)
            .map_err(|e| elf_err(format!("ELF header: {e}")))?;
        let endian = LE;
        let machine = header.e_machine(endian);
        // Old LLVM releases wrote EM_NONE; libbpf accepts both.
        if machine != elf::EM_BPF && machine != elf::EM_NONE {
            return Err(elf_err(format!(
                "e_machine {machine} at offset 0x12 is not EM_BPF (247)"
            )));
        }
        let table = header.sections(endian, data).map_err(|e| {
            elf_err(format!(
                "section header table (e_shoff {:#x}, e_shnum {}): {e}",
                header.e_shoff.get(endian),
                header.e_shnum.get(endian)
            ))
        })?;
        if table.len() > MAX_SECTIONS {
            return Err(elf_err(format!(
                "the object has {} sections; ironbpf reads at most {MAX_SECTIONS} (MAX_SECTIONS)",
                table.len()
            )));
        }
        let mut sections = Vec::with_capacity(table.len());
        for (idx, sh) in table.enumerate() {
            let idx = idx.0;
            let name_bytes = table.section_name(endian, sh).map_err(|_| {
                elf_err(format!(
                    "section #{idx}: name offset {:#x} is outside the section-name string table",
                    sh.sh_name(endian)
                ))
            })?;
            let name = String::from_utf8_lossy(name_bytes).into_owned();
            let sh_type = sh.sh_type(endian);
            let size = sh.sh_size(endian);
            let data_bytes = if sh_type == elf::SHT_NOBITS {
                if size > MAX_OBJECT_BYTES as u64 {
                    return Err(elf_err(format!(
                        "section {name} (#{idx}): SHT_NOBITS size {size:#x} is above the {MAX_OBJECT_BYTES}-byte limit on a section (MAX_OBJECT_BYTES)"
                    )));
                }
                &[][..]
            } else {
                sh.data(endian, data).map_err(|_| {
                    elf_err(format!(
                        "section {name} (#{idx}): contents (offset {:#x}, size {size:#x}) lie outside the {}-byte file",
                        sh.sh_offset(endian),
                        data.len()
                    ))
                })?
            };
            sections.push(Section {
                index: idx,
                name,
                sh_type,
                flags: sh.sh_flags(endian),
                size,
                data: data_bytes.to_vec(),
                rels: Vec::new(),
            });
        }

        let mut symbols = Vec::new();
        if let Some(sym_idx) = sections.iter().position(|s| s.sh_type == elf::SHT_SYMTAB) {
            let symtab = table.symbols(endian, data, elf::SHT_SYMTAB).map_err(|e| {
                let (link, entsize, off) = table
                    .section(object::SectionIndex(sym_idx))
                    .map(|sh| (sh.sh_link(endian), sh.sh_entsize(endian), sh.sh_offset(endian)))
                    .unwrap_or_default();
                elf_err(format!(
                    "symbol table section {} (#{sym_idx}, offset {off:#x}, sh_entsize {entsize}, sh_link {link} of {} sections): {e}",
                    sections.get(sym_idx).map_or("?", |s| &s.name),
                    sections.len()
                ))
            })?;
            for (i, sym) in symtab.enumerate() {
                let name = symtab.symbol_name(endian, sym).map_err(|_| {
                    elf_err(format!(
                        "symbol {}: name offset {:#x} is outside the string table",
                        i.0,
                        sym.st_name(endian)
                    ))
                })?;
                symbols.push(Symbol {
                    name: String::from_utf8_lossy(name).into_owned(),
                    value: sym.st_value(endian),
                    size: sym.st_size(endian),
                    shndx: usize::from(sym.st_shndx(endian)),
                    st_type: sym.st_type(),
                    bind: sym.st_bind(),
                });
            }
        }

        // Attach REL/RELA entries to their target sections.
        let nsec = sections.len();
        let mut pending = Vec::new();
        let mut total_rels = 0usize;
        for s in &sections {
            let rela = match s.sh_type {
                elf::SHT_REL => false,
                elf::SHT_RELA => true,
                _ => continue,
            };
            let sh = table
                .section(object::SectionIndex(s.index))
                .map_err(|e| elf_err(format!("section {}: {e}", s.name)))?;
            let target = sh.sh_info(endian) as usize;
            if target == 0 || target >= nsec {
                return Err(LoadError::Section {
                    section: s.name.clone(),
                    msg: format!(
                        "relocation section targets section index {target}, but there are {nsec} sections"
                    ),
                });
            }
            let ent = if rela { 24 } else { 16 };
            if s.data.len() % ent != 0 {
                return Err(LoadError::Section {
                    section: s.name.clone(),
                    msg: format!(
                        "size {:#x} is not a multiple of the {ent}-byte relocation entry",
                        s.data.len()
                    ),
                });
            }
            let mut rels = Vec::with_capacity(s.data.len() / ent);
            for (k, chunk) in s.data.chunks_exact(ent).enumerate() {
                let word = |at: usize| {
                    let mut w = [0u8; 8];
                    if let Some(b) = chunk.get(at..at + 8) {
                        w.copy_from_slice(b);
                    }
                    u64::from_le_bytes(w)
                };
                let offset = word(0);
                let info = word(8);
                let sym = (info >> 32) as usize;
                if sym >= symbols.len() {
                    return Err(LoadError::Relocation {
                        section: sections.get(target).map_or_else(String::new, |s| s.name.clone()),
                        offset,
                        msg: format!(
                            "relocation #{k} refers to symbol {sym}, but the symbol table has {} entries",
                            symbols.len()
                        ),
                    });
                }
                rels.push(Rel { offset, sym });
            }
            total_rels += rels.len();
            if total_rels > MAX_RELOCATIONS {
                return Err(LoadError::Section {
                    section: s.name.clone(),
                    msg: format!(
                        "the object has more than {MAX_RELOCATIONS} relocations (MAX_RELOCATIONS)"
                    ),
                });
            }
            pending.push((target, rels));
        }
        for (target, rels) in pending {
            if let Some(t) = sections.get_mut(target) {
                t.rels.extend(rels);
            }
        }
        Ok(Elf { sections, symbols })
    }

    /// Section `i`, or an error naming the index.
    pub fn section(&self, i: usize) -> Result<&Section, LoadError> {
        self.sections.get(i).ok_or_else(|| {
            elf_err(format!(
                "section index {i} is past the {} sections",
                self.sections.len()
            ))
        })
    }

    /// Symbol `i`, or an error naming the index.
    pub fn symbol(&self, i: usize) -> Result<&Symbol, LoadError> {
        self.symbols.get(i).ok_or_else(|| {
            elf_err(format!(
                "symbol index {i} is past the {} symbols",
                self.symbols.len()
            ))
        })
    }

    pub fn section_by_name(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.name == name)
    }
}
