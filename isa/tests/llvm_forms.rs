//! The assembler reads llvm-objdump's listing as it is printed (addresses,
//! hex bytes, `<sym>` annotations, symbol lines), and every instruction's
//! text assembles to the bytes LLVM encoded for it.

use ironbpf_isa::{assemble, assemble_insn, slots_from_bytes, Insn};

/// `llvm-objdump-19 -d` of an object that `llvm-mc-19 -triple bpfel
/// -mcpu=v4 -filetype=obj` made from one line of each instruction form
/// (the listing after the section header). Regenerate by assembling the
/// instruction texts below with those two commands.
const LISTING: &str = "
       0:	b7 00 00 00 2a 00 00 00	r0 = 0x2a
       1:	b4 01 00 00 f9 ff ff ff	w1 = -0x7
       2:	bf 21 00 00 00 00 00 00	r1 = r2
       3:	bc 21 00 00 00 00 00 00	w1 = w2
       4:	0c 21 00 00 00 00 00 00	w1 += w2
       5:	17 01 00 00 03 00 00 00	r1 -= 0x3
       6:	2f 21 00 00 00 00 00 00	r1 *= r2
       7:	34 01 00 00 03 00 00 00	w1 /= 0x3
       8:	3f 21 01 00 00 00 00 00	r1 s/= r2
       9:	94 01 01 00 03 00 00 00	w1 s%= 0x3
      10:	9f 21 00 00 00 00 00 00	r1 %= r2
      11:	47 01 00 00 01 00 00 00	r1 |= 0x1
      12:	5c 21 00 00 00 00 00 00	w1 &= w2
      13:	67 01 00 00 3f 00 00 00	r1 <<= 0x3f
      14:	74 01 00 00 1f 00 00 00	w1 >>= 0x1f
      15:	cf 21 00 00 00 00 00 00	r1 s>>= r2
      16:	a7 01 00 00 ff ff ff ff	r1 ^= -0x1
      17:	87 01 00 00 00 00 00 00	r1 = -r1
      18:	84 01 00 00 00 00 00 00	w1 = -w1
      19:	bf 10 08 00 00 00 00 00	r0 = (s8)r1
      20:	bf 10 10 00 00 00 00 00	r0 = (s16)r1
      21:	bf 10 20 00 00 00 00 00	r0 = (s32)r1
      22:	bc 10 08 00 00 00 00 00	w0 = (s8)w1
      23:	bc 10 10 00 00 00 00 00	w0 = (s16)w1
      24:	dc 01 00 00 10 00 00 00	r1 = be16 r1
      25:	dc 01 00 00 20 00 00 00	r1 = be32 r1
      26:	dc 01 00 00 40 00 00 00	r1 = be64 r1
      27:	d4 01 00 00 10 00 00 00	r1 = le16 r1
      28:	d4 01 00 00 20 00 00 00	r1 = le32 r1
      29:	d4 01 00 00 40 00 00 00	r1 = le64 r1
      30:	d7 01 00 00 10 00 00 00	r1 = bswap16 r1
      31:	d7 01 00 00 20 00 00 00	r1 = bswap32 r1
      32:	d7 01 00 00 40 00 00 00	r1 = bswap64 r1
      33:	71 10 00 00 00 00 00 00	r0 = *(u8 *)(r1 + 0x0)
      34:	69 10 fe ff 00 00 00 00	r0 = *(u16 *)(r1 - 0x2)
      35:	61 10 04 00 00 00 00 00	r0 = *(u32 *)(r1 + 0x4)
      36:	79 a0 00 80 00 00 00 00	r0 = *(u64 *)(r10 - 0x8000)
      37:	91 10 00 00 00 00 00 00	r0 = *(s8 *)(r1 + 0x0)
      38:	89 10 ff 7f 00 00 00 00	r0 = *(s16 *)(r1 + 0x7fff)
      39:	81 10 08 00 00 00 00 00	r0 = *(s32 *)(r1 + 0x8)
      40:	73 1a ff ff 00 00 00 00	*(u8 *)(r10 - 0x1) = r1
      41:	6b 1a fe ff 00 00 00 00	*(u16 *)(r10 - 0x2) = r1
      42:	63 1a fc ff 00 00 00 00	*(u32 *)(r10 - 0x4) = r1
      43:	7b 1a f8 ff 00 00 00 00	*(u64 *)(r10 - 0x8) = r1
      44:	72 0a ff ff ff 00 00 00	*(u8 *)(r10 - 0x1) = 0xff
      45:	6a 0a fe ff fe ff ff ff	*(u16 *)(r10 - 0x2) = -0x2
      46:	62 0a fc ff 07 00 00 00	*(u32 *)(r10 - 0x4) = 0x7
      47:	7a 0a f8 ff ff ff ff ff	*(u64 *)(r10 - 0x8) = -0x1
      48:	db 1a f8 ff 00 00 00 00	lock *(u64 *)(r10 - 0x8) += r1
      49:	c3 1a f8 ff 00 00 00 00	lock *(u32 *)(r10 - 0x8) += r1
      50:	db 1a f8 ff 40 00 00 00	lock *(u64 *)(r10 - 0x8) |= r1
      51:	db 1a f8 ff 50 00 00 00	lock *(u64 *)(r10 - 0x8) &= r1
      52:	db 1a f8 ff a0 00 00 00	lock *(u64 *)(r10 - 0x8) ^= r1
      53:	db 1a f8 ff 01 00 00 00	r1 = atomic_fetch_add((u64 *)(r10 - 0x8), r1)
      54:	db 1a f8 ff 41 00 00 00	r1 = atomic_fetch_or((u64 *)(r10 - 0x8), r1)
      55:	db 1a f8 ff 51 00 00 00	r1 = atomic_fetch_and((u64 *)(r10 - 0x8), r1)
      56:	db 1a f8 ff a1 00 00 00	r1 = atomic_fetch_xor((u64 *)(r10 - 0x8), r1)
      57:	db 1a f8 ff e1 00 00 00	r1 = xchg_64(r10 - 0x8, r1)
      58:	db 1a f8 ff f1 00 00 00	r0 = cmpxchg_64(r10 - 0x8, r0, r1)
      59:	18 00 00 00 f0 de bc 9a 00 00 00 00 78 56 34 12	r0 = 0x123456789abcdef0 ll
      61:	18 01 00 00 22 11 00 00 00 00 00 00 00 00 00 00	r1 = 0x1122 ll
      63:	30 00 00 00 01 00 00 00	r0 = *(u8 *)skb[0x1]
      64:	28 00 00 00 0c 00 00 00	r0 = *(u16 *)skb[0xc]
      65:	20 00 00 00 fc ff ff ff	r0 = *(u32 *)skb[-0x4]
      66:	48 20 00 00 00 00 00 00	r0 = *(u16 *)skb[r2]
      67:	05 00 03 00 00 00 00 00	goto +0x3 <.text+0x238>
      68:	05 00 ff ff 00 00 00 00	goto -0x1 <.text+0x220>
      69:	15 01 02 00 05 00 00 00	if r1 == 0x5 goto +0x2 <.text+0x240>
      70:	5d 21 02 00 00 00 00 00	if r1 != r2 goto +0x2 <.text+0x248>
      71:	25 01 02 00 05 00 00 00	if r1 > 0x5 goto +0x2 <.text+0x250>
      72:	3d 21 02 00 00 00 00 00	if r1 >= r2 goto +0x2 <.text+0x258>
      73:	a5 01 02 00 05 00 00 00	if r1 < 0x5 goto +0x2 <.text+0x260>
      74:	bd 21 02 00 00 00 00 00	if r1 <= r2 goto +0x2 <.text+0x268>
      75:	65 01 02 00 fb ff ff ff	if r1 s> -0x5 goto +0x2 <.text+0x270>
      76:	7d 21 02 00 00 00 00 00	if r1 s>= r2 goto +0x2 <.text+0x278>
      77:	c5 01 02 00 05 00 00 00	if r1 s< 0x5 goto +0x2 <.text+0x280>
      78:	dd 21 02 00 00 00 00 00	if r1 s<= r2 goto +0x2 <.text+0x288>
      79:	45 01 02 00 08 00 00 00	if r1 & 0x8 goto +0x2 <.text+0x290>
      80:	1e 21 02 00 00 00 00 00	if w1 == w2 goto +0x2 <.text+0x298>
      81:	66 01 02 00 fb ff ff ff	if w1 s> -0x5 goto +0x2 <.text+0x2a0>
      82:	a6 01 02 00 05 00 00 00	if w1 < 0x5 goto +0x2 <.text+0x2a8>
      83:	85 00 00 00 01 00 00 00	call 0x1
      84:	85 00 00 00 0c 00 00 00	call 0xc
      85:	8d 02 00 00 00 00 00 00	callx r2
      86:	06 00 00 00 00 00 00 00	gotol +0x0 <LBB0_1>

00000000000002b8 <LBB0_1>:
      87:	95 00 00 00 00 00 00 00	exit
";

/// The bytes of each listed instruction, from the listing itself.
fn listed_bytes() -> Vec<(String, Vec<u8>, String)> {
    let mut out = Vec::new();
    for line in LISTING.lines() {
        let mut parts = line.split('\t');
        let (Some(addr), Some(hex), Some(text)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let bytes = hex
            .split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect();
        out.push((addr.trim().to_string(), bytes, text.to_string()));
    }
    out
}

#[test]
fn the_whole_listing_assembles_to_its_bytes() {
    let want: Vec<u8> = listed_bytes().into_iter().flat_map(|(_, b, _)| b).collect();
    assert_eq!(
        want.len(),
        88 * 8,
        "the fixture has 86 instructions in 88 slots"
    );
    let got = assemble(LISTING).unwrap();
    let want = slots_from_bytes(&want).unwrap();
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "slot {i}");
    }
    assert_eq!(got.len(), want.len());
}

#[test]
fn each_llvm_text_assembles_alone() {
    for (addr, bytes, text) in listed_bytes() {
        if text.ends_with('>') {
            // Jumps whose target llvm-objdump annotates: also alone.
            let text = text.rsplit_once(" <").unwrap().0;
            if text.starts_with("gotol") {
                continue;
            }
            let insn = assemble_insn(text).unwrap_or_else(|e| panic!("{addr}: `{text}`: {e}"));
            assert_eq!(
                insn.encode(),
                slots_from_bytes(&bytes).unwrap(),
                "{addr}: `{text}`"
            );
            continue;
        }
        let insn = assemble_insn(&text).unwrap_or_else(|e| panic!("{addr}: `{text}`: {e}"));
        let slots = slots_from_bytes(&bytes).unwrap();
        assert_eq!(insn.encode(), slots, "{addr}: `{text}`");
        assert_eq!(Insn::decode(&slots, 0), Ok(insn), "{addr}: `{text}`");
    }
}
