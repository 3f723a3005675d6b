//! Shared by the domain tests: the kernel's scalar print read back into a
//! `Scalar` (the inverse of `write_value`, omitted fields at their defaults).

use ironbpf_verifier::scalar::Scalar;
use ironbpf_verifier::tnum::Tnum;

pub fn num(s: &str) -> u64 {
    if let Some(h) = s.strip_prefix("0x") {
        u64::from_str_radix(h, 16).expect("hex")
    } else if let Some(d) = s.strip_prefix('-') {
        d.parse::<u64>().expect("dec").wrapping_neg()
    } else {
        s.parse().expect("dec")
    }
}

/// Reads the kernel's text back (the inverse of `write_value`).
pub fn parse(text: &str) -> Scalar {
    let Some(body) = text
        .strip_prefix("scalar(")
        .and_then(|b| b.strip_suffix(')'))
    else {
        return Scalar::constant(num(text));
    };
    let mut s = Scalar::unknown();
    let (ranges, var_off) = match body.find("var_off=(") {
        Some(i) => (
            &body[..i],
            Some(&body[i + "var_off=(".len()..body.len() - 1]),
        ),
        None => (body, None),
    };
    if let Some(t) = var_off {
        let (v, m) = t.split_once("; ").expect("tnum");
        s.var_off = Tnum::new(num(v), num(m));
    }
    for item in ranges.split(',').filter(|x| !x.is_empty()) {
        let parts: Vec<&str> = item.split('=').collect();
        let v = num(parts[parts.len() - 1]);
        for name in &parts[..parts.len() - 1] {
            match *name {
                "smin" => s.smin = v as i64,
                "smax" => s.smax = v as i64,
                "umin" => s.umin = v,
                "umax" => s.umax = v,
                "smin32" => s.s32_min = v as i32,
                "smax32" => s.s32_max = v as i32,
                "umin32" => s.u32_min = v as u32,
                "umax32" => s.u32_max = v as u32,
                other => panic!("unknown field {other} in {text}"),
            }
        }
    }
    s
}
