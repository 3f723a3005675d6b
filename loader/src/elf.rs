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

fn elf_err(msg: impl Into<String>) -> LoadError {
    LoadError::Elf(msg.into())
}

impl Elf {
    pub fn parse(input: &[u8]) -> Result<Elf, LoadError> {
        // `object` reads headers in place and requires natural alignment: copy to an 8-aligned buffer.
        let mut buf = vec![0u8; input.len() + 8];
        let shift = buf.as_ptr().align_offset(8).min(8);
        buf[shift..shift + input.len()].copy_from_slice(input);
        let data: &[u8] = &buf[shift..shift + input.len()];

        if data.len() < 4 || &data[..4] != b"\x7fELF" {
            return Err(elf_err("not an ELF file (bad magic at offset 0)"));
        }
        if data.len() < 64 {
            return Err(elf_err(format!(
                "ELF header is truncated: {} bytes, a 64-bit header needs 64",
                data.len()
            )));
        }
        if data[4] != elf::ELFCLASS64 {
            return Err(elf_err(format!(
                "ELF class {} at offset 4 is not ELFCLASS64",
                data[4]
            )));
        }
        if data[5] != elf::ELFDATA2LSB {
            return Err(elf_err(format!(
                "ELF data encoding {} at offset 5 is not little-endian",
                data[5]
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
                    sections[sym_idx].name,
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
                let mut o = [0u8; 8];
                o.copy_from_slice(&chunk[..8]);
                let mut i = [0u8; 8];
                i.copy_from_slice(&chunk[8..16]);
                let offset = u64::from_le_bytes(o);
                let info = u64::from_le_bytes(i);
                let sym = (info >> 32) as usize;
                if sym >= symbols.len() {
                    return Err(LoadError::Relocation {
                        section: sections[target].name.clone(),
                        offset,
                        msg: format!(
                            "relocation #{k} refers to symbol {sym}, but the symbol table has {} entries",
                            symbols.len()
                        ),
                    });
                }
                rels.push(Rel { offset, sym });
            }
            pending.push((target, rels));
        }
        for (target, rels) in pending {
            sections[target].rels.extend(rels);
        }
        Ok(Elf { sections, symbols })
    }

    pub fn section_by_name(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.name == name)
    }
}
