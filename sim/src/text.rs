//! What volunteers type: Thai notes put together from the pieces of real
//! help sessions (who, what service, what went wrong, what was done, what
//! next), with names, apps, amounts and dates varying, so that a week's
//! notes do not repeat one template (which would compress 13 times and
//! flatter the bytes per session), and Thai names for the people helped.

use crate::rng::Rng;

const WHO: &[&str] = &[
    "ป้า",
    "ลุง",
    "ยาย",
    "ตา",
    "พี่",
    "น้อง",
    "คุณ",
    "แม่",
    "พ่อ",
    "นาง",
    "นาย",
];
const GIVEN: &[&str] = &[
    "สมศรี",
    "บุญมี",
    "มาลี",
    "สมชาย",
    "ประเสริฐ",
    "คำปุน",
    "ทองใบ",
    "จันทร์เพ็ญ",
    "สุนทร",
    "อำพร",
    "บัวผัน",
    "วิไล",
    "เสาร์แก้ว",
    "ศรีนวล",
    "ประยูร",
    "ดวงใจ",
    "สมพร",
    "คำแก้ว",
    "นิตยา",
    "อุไร",
    "บุญเรือน",
    "สายทอง",
    "ปัญญา",
    "เพ็ญศรี",
    "ทองดี",
    "จำปา",
    "สุริยา",
];
const FAMILY: &[&str] = &[
    "ใจดี",
    "ศรีสุข",
    "แก้วมณี",
    "บุญมา",
    "ทองคำ",
    "สุขใจ",
    "มั่นคง",
    "พรหมมา",
    "แสงทอง",
    "คำภา",
    "อินทร์แก้ว",
    "จันทร์หอม",
    "ปัญญาดี",
    "วงศ์ใหญ่",
    "ชัยมงคล",
    "ศรีวงศ์",
    "ไชยวงค์",
];
const SERVICE: &[&str] = &[
    "สมัครแอปทางรัฐ",
    "ยืนยันตัวตนในแอปเป๋าตัง",
    "ลงทะเบียนบัตรสวัสดิการแห่งรัฐ",
    "จองคิวฉีดวัคซีนในหมอพร้อม",
    "ตรวจสอบสิทธิ์เบี้ยยังชีพผู้สูงอายุ",
    "ขอรับเงินช่วยเหลือเกษตรกร",
    "ยื่นภาษีเงินได้ออนไลน์",
    "ต่อใบขับขี่ผ่านแอป",
    "ลงทะเบียนเราชนะย้อนหลัง",
    "ตั้งค่าไลน์ให้ลูกหลานโทรวิดีโอ",
    "เปิดบัญชีพร้อมเพย์ผูกบัตรประชาชน",
    "ตรวจสอบสิทธิ์บัตรทอง",
    "ขายข้าวผ่านเพจเฟซบุ๊ก",
    "ลงทะเบียนประกันสังคมมาตรา 40",
    "แจ้งเกิดบุตรผ่านระบบออนไลน์",
    "ขอใบรับรองแพทย์ออนไลน์",
    "สมัครเรียนคอร์สออนไลน์ของกศน.",
    "ตรวจสอบข่าวปลอมเรื่องเงินดิจิทัล",
    "ตั้งรหัสผ่านอีเมลใหม่",
    "ลงทะเบียนขึ้นทะเบียนคนพิการ",
];
const PROBLEM: &[&str] = &[
    "เบอร์โทรไม่ตรงกับที่ลงทะเบียนไว้",
    "ลืมรหัสผ่านและรับ OTP ไม่ได้",
    "ถ่ายรูปบัตรประชาชนไม่ผ่าน",
    "สัญญาณเน็ตไม่ดีต้องลองหลายครั้ง",
    "โทรศัพท์รุ่นเก่าลงแอปไม่ได้",
    "ได้รับ SMS หลอกให้กดลิงก์",
    "ชื่อสกุลสะกดไม่ตรงกับทะเบียนราษฎร์",
    "หน่วยความจำเครื่องเต็ม",
    "ไม่มีอีเมลสำหรับสมัคร",
    "ระบบล่มช่วงเที่ยง",
    "ยังไม่ได้ผูกบัญชีธนาคาร",
    "สายตาไม่ดีอ่านตัวหนังสือเล็กไม่ออก",
];
const DONE: &[&str] = &[
    "ช่วยกรอกข้อมูลจนเสร็จ",
    "สอนวิธีใช้ทีละขั้นตอน",
    "แนะนำให้ไปติดต่อธนาคารที่อำเภอ",
    "โทรสอบถามศูนย์บริการให้",
    "ลบแอปที่ไม่ใช้เพื่อเพิ่มพื้นที่",
    "อธิบายวิธีสังเกตลิงก์หลอกลวง",
    "ขยายขนาดตัวอักษรในเครื่องให้",
    "จดขั้นตอนไว้ในกระดาษให้ทำเองได้",
    "ช่วยอัปโหลดเอกสารประกอบ",
    "ตั้งค่าการแจ้งเตือนให้",
];
const NEXT: &[&str] = &[
    "นัดอีกครั้งวันจันทร์",
    "รอผลอนุมัติประมาณ 7 วัน",
    "ลูกสาวจะช่วยต่อที่บ้าน",
    "ต้องนำสมุดบัญชีมาด้วยครั้งหน้า",
    "เรียบร้อยแล้ว",
    "ส่งเรื่องต่อให้ผู้ใหญ่บ้าน",
    "จะแวะไปที่บ้านสัปดาห์หน้า",
    "ได้รับเงินแล้ว",
];

/// A person's name as a volunteer writes it (title given family).
pub fn person_name(rng: &mut Rng) -> String {
    let title = *rng.pick(&["นาย", "นาง", "นางสาว", ""]);
    format!("{title}{} {}", rng.pick(GIVEN), rng.pick(FAMILY))
}

/// A volunteer's note of one session: 2 to 5 clauses, with a name, a
/// number or a time now and then.
pub fn note(rng: &mut Rng) -> String {
    let mut note = format!(
        "ช่วย{}{}{}",
        rng.pick(WHO),
        rng.pick(GIVEN),
        rng.pick(SERVICE)
    );
    if rng.chance(0.8) {
        note.push(' ');
        note.push_str(rng.pick::<&str>(PROBLEM));
    }
    if rng.chance(0.9) {
        note.push(' ');
        note.push_str(rng.pick::<&str>(DONE));
    }
    if rng.chance(0.3) {
        note.push_str(&format!(" ใช้เวลา {} นาที", rng.range(5, 90)));
    }
    if rng.chance(0.2) {
        note.push_str(&format!(" ยอด {} บาท", rng.range(3, 30) * 100));
    }
    if rng.chance(0.6) {
        note.push(' ');
        note.push_str(rng.pick::<&str>(NEXT));
    }
    if rng.chance(0.15) {
        note.push_str(&format!(" โทร 08{:08}", rng.range(0, 100_000_000)));
    }
    note
}

/// A Thai national id with its check digit (contract: weights 13 to 2).
pub fn national_id(rng: &mut Rng) -> String {
    let mut digits: Vec<u32> = (0..12).map(|_| rng.range(0, 10) as u32).collect();
    digits[0] = 1 + digits[0] % 8;
    let sum: u32 = digits.iter().zip((2..=13).rev()).map(|(d, w)| d * w).sum();
    digits.push((11 - sum % 11) % 10);
    digits.iter().map(|d| char::from(b'0' + *d as u8)).collect()
}
