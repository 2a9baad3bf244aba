//! How well `sync_core::names::similar` tells the same person from two, on
//! generated Thai names, for docs/BENCHMARKS.md: recall per kind of variant a
//! volunteer writes for someone already recorded, and precision against
//! pairs of different people (sharing a surname or a village's common first
//! names, as real villages do). Run: `cargo bench -p sync-core --bench names`.

use sync_core::names::similar;

/// A fixed-seed generator (xorshift64*): the same names on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[(self.next() % from.len() as u64) as usize]
    }
}

const FIRST: &[&str] = &[
    "สม",
    "ชาย",
    "ศรี",
    "มาลี",
    "ประ",
    "เสริฐ",
    "วิชัย",
    "สุดา",
    "บุญ",
    "มี",
    "กมล",
    "ทิพย์",
    "อรุณ",
    "รัตน์",
    "นิ",
    "ภา",
    "สุ",
    "ชาติ",
    "พร",
    "ทอง",
    "จันทร์",
    "เพ็ญ",
    "วัน",
    "ดี",
];
const LAST: &[&str] = &[
    "ใจ",
    "ดี",
    "ศรี",
    "สุข",
    "วงศ์",
    "ใหญ่",
    "แก้ว",
    "มณี",
    "ทอง",
    "คำ",
    "บุญ",
    "มา",
    "รักษ์",
    "ไทย",
    "เพชร",
    "สวัสดิ์",
    "จันทร์",
    "หอม",
    "พันธ์",
    "ประเสริฐ",
];
const TITLES: &[&str] = &["นาย", "นาง", "นางสาว", "ด.ช.", "คุณ"];
const NICKNAMES: &[&str] = &["แดง", "ดำ", "หนู", "ต้อย", "น้อย", "ปุ๊ก"];

fn person(rng: &mut Rng) -> String {
    format!(
        "{}{} {}{}",
        rng.pick(FIRST),
        rng.pick(FIRST),
        rng.pick(LAST),
        rng.pick(LAST)
    )
}

/// The kinds of variant, and how each writes a name differently.
/// A way of writing a name differently.
type Vary = fn(&str, &mut Rng) -> String;

const VARIANTS: &[(&str, Vary)] = &[
    ("a title in front", |n, r| format!("{}{n}", r.pick(TITLES))),
    ("spacing", |n, _| n.replace(' ', "  ").replacen("  ", "", 1)),
    ("a zero-width space", |n, _| n.replacen(' ', " \u{200B}", 1)),
    ("a tone mark slipped", |n, _| {
        match n.find(['่', '้']) {
            Some(i) => {
                let mut s = n.to_owned();
                s.remove(i);
                s
            }
            // No tone mark to drop: one added after the first consonant.
            None => {
                let mut chars: Vec<char> = n.chars().collect();
                chars.insert(1, '่');
                chars.into_iter().collect()
            }
        }
    }),
    ("a vowel slipped", |n, _| {
        let swapped = n.replacen('ี', "ิ", 1);
        if swapped != n {
            swapped
        } else {
            n.replacen('า', "ะ", 1)
        }
    }),
    ("a nickname added", |n, r| {
        format!("{n} ({})", r.pick(NICKNAMES))
    }),
    ("a consonant of the same sound", |n, _| same_sound(n)),
    ("three slips: tone, vowel, consonant", |n, r| {
        let once = VARIANTS[3].1(n, r);
        same_sound(&VARIANTS[4].1(&once, r))
    }),
    ("a title and three slips", |n, r| {
        let slipped = VARIANTS[7].1(n, r);
        format!("{}{slipped}", r.pick(TITLES))
    }),
];

/// One consonant written as another of the same sound (ศ/ษ/ส, ธ/ท, ภ/พ,
/// ณ/น), the slip Thai spelling invites most.
fn same_sound(n: &str) -> String {
    let pairs = [
        ("ศ", "ส"),
        ("ษ", "ส"),
        ("ธ", "ท"),
        ("ภ", "พ"),
        ("ณ", "น"),
        ("ส", "ศ"),
        ("ท", "ธ"),
        ("น", "ณ"),
    ];
    for (from, to) in pairs {
        if n.contains(from) {
            return n.replacen(from, to, 1);
        }
    }
    n.replacen('ม', "น", 1)
}

fn main() {
    let mut rng = Rng(0x5EED_2026_1202);
    let people: Vec<String> = (0..4000).map(|_| person(&mut rng)).collect();
    // Two generated people may carry the same name: as in a village, they
    // cannot be told apart by name alone, so such pairs are left out.
    println!("recall: the same person written another way (4,000 people each)");
    let mut found_all = 0;
    for (kind, vary) in VARIANTS {
        let found = people
            .iter()
            .filter(|name| similar(name, &vary(name, &mut rng)))
            .count();
        found_all += found;
        println!(
            "  {kind:<38} {:>6.1}%",
            100.0 * found as f64 / people.len() as f64
        );
    }
    let true_pairs = people.len() * VARIANTS.len();
    println!(
        "  {:<38} {:>6.1}%",
        "all",
        100.0 * found_all as f64 / true_pairs as f64
    );

    let mut false_matches = 0;
    let mut pairs = 0;
    for _ in 0..200_000 {
        let a = &people[(rng.next() % people.len() as u64) as usize];
        let b = &people[(rng.next() % people.len() as u64) as usize];
        if a == b {
            continue;
        }
        pairs += 1;
        if similar(a, b) {
            false_matches += 1;
        }
    }
    println!("different people: {pairs} random pairs, {false_matches} taken for the same person");
    // Precision as a list of candidates would see it: every true pair once,
    // against false matches at the rate measured, over as many other-person
    // pairs as the true pairs were compared with.
    let false_rate = false_matches as f64 / pairs as f64;
    let precision = found_all as f64 / (found_all as f64 + false_rate * true_pairs as f64);
    println!(
        "false match rate {:.4}%, precision at one comparison per true pair {:.1}%",
        100.0 * false_rate,
        100.0 * precision
    );
    // Search before create: a new person's name against a village's.
    for village in [100, 300, 1000] {
        let odds = 1.0 - (1.0 - false_rate).powi(village);
        println!(
            "a new person checked against a village of {village}: a wrong candidate in {:.2}% of searches",
            100.0 * odds
        );
    }
}
