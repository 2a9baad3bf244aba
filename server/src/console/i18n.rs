//! Every word the console shows, in Thai and English, and the few formats
//! that put words around numbers and dates (Thai dates use the Buddhist era).
//!
//! No other file of the console holds UI text: pages ask [`Lang::t`] for a
//! [`Text`], or one of the functions below for a label of a code.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Timelike, Utc};

/// The language of the interface. Thai unless the user chose English.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    #[default]
    Th,
    En,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::Th, Lang::En];

    /// `"th"` or `"en"` (exactly, as the language switch and cookie write them).
    pub fn parse(code: &str) -> Option<Lang> {
        match code {
            "th" => Some(Lang::Th),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The language of a cookie or query value; Thai when absent or unknown.
    pub fn from_param(code: Option<&str>) -> Lang {
        code.and_then(Lang::parse).unwrap_or_default()
    }

    /// The code for `lang=""` attributes, cookies and `/lang?to=`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Th => "th",
            Lang::En => "en",
        }
    }

    /// The language the switch offers.
    pub fn other(self) -> Lang {
        match self {
            Lang::Th => Lang::En,
            Lang::En => Lang::Th,
        }
    }

    /// One UI string in this language.
    pub fn t(self, text: Text) -> &'static str {
        text.get(self)
    }
}

macro_rules! texts {
    ($($name:ident => $th:literal, $en:literal;)*) => {
        /// A piece of UI text; [`Lang::t`] gives it in a language.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Text {
            $($name,)*
        }

        impl Text {
            pub const ALL: &'static [Text] = &[$(Text::$name,)*];

            pub fn get(self, lang: Lang) -> &'static str {
                match (self, lang) {
                    $(
                        (Text::$name, Lang::Th) => $th,
                        (Text::$name, Lang::En) => $en,
                    )*
                }
            }
        }
    };
}

texts! {
    // The shell.
    ProductName => "Asa Sync", "Asa Sync";
    Tagline => "ระบบติดตามงานอาสาสมัครดิจิทัล", "Digital volunteer work tracker";
    SkipToContent => "ข้ามไปยังเนื้อหาหลัก", "Skip to main content";
    MainMenu => "เมนูหลัก", "Main menu";
    NavSessions => "บันทึกการช่วยเหลือ", "Sessions";
    NavConflicts => "ข้อมูลขัดแย้ง", "Conflicts";
    NavDevices => "อุปกรณ์", "Devices";
    NavVolunteers => "อาสาสมัคร", "Volunteers";
    NavProgramme => "ภาพรวมโครงการ", "Programme";
    NavDuplicates => "ผู้รับบริการซ้ำ", "Duplicates";
    ConflictsWaiting => "รายการรอตรวจสอบ", "waiting for review";
    SignedInAs => "ผู้ใช้งาน", "Signed in as";
    AllCentres => "ทุกศูนย์", "All centres";
    SignOut => "ออกจากระบบ", "Sign out";
    LanguageMenu => "เปลี่ยนภาษา", "Change language";
    LanguageName => "ภาษาไทย", "English";
    RoleVolunteer => "อาสาสมัคร", "Volunteer";
    RoleManager => "ผู้จัดการศูนย์", "Centre manager";
    RoleAdmin => "ผู้ดูแลระบบ", "Administrator";
    Yes => "ใช่", "Yes";
    No => "ไม่ใช่", "No";
    NotGiven => "(ไม่ระบุ)", "(not given)";
    Never => "ยังไม่เคย", "Never";
    Show => "แสดงผล", "Show";
    Manage => "จัดการ", "Manage";

    // Success notices after a form.
    NoticeSaved => "บันทึกเรียบร้อยแล้ว", "Saved.";
    NoticeResolved => "บันทึกการแก้ไขข้อมูลขัดแย้งเรียบร้อยแล้ว", "The conflict is resolved.";
    NoticeUnbound => "ยกเลิกการผูกอุปกรณ์แล้ว เครื่องนั้นออกจากระบบทันที", "The device is unbound and signed out.";
    NoticeCreated => "เพิ่มอาสาสมัครเรียบร้อยแล้ว", "The volunteer was added.";
    NoticeDisabled => "ระงับการใช้งานบัญชีแล้ว ผู้ใช้ออกจากระบบทุกเครื่อง", "The account is disabled and signed out everywhere.";
    NoticeEnabled => "เปิดใช้งานบัญชีแล้ว", "The account is enabled.";
    NoticePasswordReset => "ตั้งรหัสผ่านใหม่แล้ว ผู้ใช้ต้องเข้าสู่ระบบใหม่ด้วยรหัสผ่านนี้", "The password is reset; the user signs in again with it.";
    NoticeRenamed => "เปลี่ยนชื่อที่แสดงแล้ว", "The display name is changed.";
    NoticeSignedOut => "ออกจากระบบแล้ว", "You are signed out.";
    NoticeDismissed => "บันทึกแล้วว่าเป็นคนละคนกัน คู่นี้จะไม่แสดงอีก", "Noted as two different people; the pair is no longer listed.";
    NoticeMerged => "รวมเป็นคนเดียวกันแล้ว รายงานจะนับคนนี้เพียงครั้งเดียว", "Merged into one person; reports count them once.";

    // Duplicates.
    DuplicatesTitle => "ผู้รับบริการที่อาจซ้ำกัน", "Possible duplicates";
    DuplicatesIntro => "ผู้รับบริการของศูนย์ที่อาจเป็นคนเดียวกัน ตรวจสอบแล้วเลือกว่าเป็นคนเดียวกัน (รวมรายการที่สองเข้ากับรายการแรก) หรือเป็นคนละคน", "Beneficiaries of the centre who may be one person. Check each pair, then merge the second record into the first, or mark them as two people.";
    NoDuplicates => "ไม่พบผู้รับบริการที่อาจซ้ำกัน", "No possible duplicates.";
    ColPersonKept => "รายการที่เก็บไว้", "Kept";
    ColPersonMerged => "รายการที่จะรวม", "Merged into it";
    ColWhy => "เหตุผล", "Why";
    ColLikeness => "ความน่าจะเป็น", "Likelihood";
    ColBirthYear => "ปีเกิด", "born";
    ReasonNationalId => "เลขประจำตัวประชาชนเดียวกัน", "The same national id";
    ReasonPhone => "เบอร์โทรศัพท์เดียวกัน", "The same phone number";
    ReasonName => "ชื่อคล้ายกัน หมู่บ้านเดียวกัน ปีเกิดใกล้กัน", "A similar name, the same village, close birth years";
    SamePerson => "เป็นคนเดียวกัน", "Same person";
    NotSamePerson => "คนละคน", "Not the same person";

    // Login.
    LoginTitle => "เข้าสู่ระบบ", "Sign in";
    LoginIntro => "สำหรับผู้จัดการศูนย์และผู้ดูแลระบบ", "For centre managers and administrators";
    Username => "ชื่อผู้ใช้", "Username";
    Password => "รหัสผ่าน", "Password";
    SignIn => "เข้าสู่ระบบ", "Sign in";

    // Sessions list.
    SessionsTitle => "บันทึกการช่วยเหลือ", "Help sessions";
    FilterHeading => "ค้นหาและกรองรายการ", "Search and filter";
    FilterVolunteer => "ชื่ออาสาสมัคร", "Volunteer name";
    FilterVillage => "รหัสหมู่บ้าน (8 หลัก)", "Village code (8 digits)";
    FilterFrom => "ตั้งแต่วันที่", "From";
    FilterTo => "ถึงวันที่", "To";
    FilterAny => "ทั้งหมด", "Any";
    FilterConflictsOnly => "เฉพาะรายการที่มีข้อมูลขัดแย้ง", "Only records with conflicts";
    FilterDeleted => "รายการที่ลบแล้ว", "Deleted records";
    DeletedExclude => "ไม่แสดง", "Leave out";
    DeletedInclude => "แสดงรวมด้วย", "Include";
    DeletedOnly => "แสดงเฉพาะที่ลบแล้ว", "Only deleted";
    Search => "ค้นหา", "Search";
    ClearFilters => "ล้างตัวกรอง", "Clear filters";
    NoSessions => "ไม่พบรายการที่ตรงกับเงื่อนไข", "No sessions match these filters.";
    Pages => "เปลี่ยนหน้า", "Pages";
    PreviousPage => "หน้าก่อนหน้า", "Previous page";
    NextPage => "หน้าถัดไป", "Next page";
    ExportHeading => "ส่งออกข้อมูลตามตัวกรองนี้", "Export these results";
    ExportCsv => "ไฟล์ CSV", "CSV file";
    ExportXlsx => "ไฟล์ Excel (XLSX)", "Excel file (XLSX)";
    ColStartedAt => "วันเวลาที่เริ่ม", "Started";
    ColVolunteer => "อาสาสมัคร", "Volunteer";
    ColVillage => "หมู่บ้าน", "Village";
    ColHelpType => "ประเภทการช่วยเหลือ", "Type of help";
    ColDuration => "ระยะเวลา", "Duration";
    ColPeople => "ผู้ได้รับความช่วยเหลือ (คน)", "People helped";
    ColOutcome => "ผลการช่วยเหลือ", "Outcome";
    ColStatus => "สถานะ", "Status";
    MarkConflict => "ข้อมูลขัดแย้ง", "Conflict";
    MarkDeleted => "ลบแล้ว", "Deleted";

    // Session detail.
    SessionTitle => "รายละเอียดการช่วยเหลือ", "Session details";
    BackToSessions => "กลับไปหน้ารายการ", "Back to sessions";
    FieldRecordId => "รหัสรายการ", "Record ID";
    FieldCentre => "ศูนย์", "Centre";
    FieldVolunteer => "อาสาสมัคร", "Volunteer";
    FieldVillage => "รหัสหมู่บ้าน", "Village code";
    FieldHelpType => "ประเภทการช่วยเหลือ", "Type of help";
    FieldStartedAt => "วันเวลาที่เริ่ม", "Started";
    FieldDuration => "ระยะเวลา", "Duration";
    FieldPeople => "จำนวนผู้ได้รับความช่วยเหลือ (คน)", "People helped";
    FieldOutcome => "ผลการช่วยเหลือ", "Outcome";
    FieldNotes => "บันทึกเพิ่มเติม", "Notes";
    FieldFollowUp => "วันนัดติดตามผล", "Follow-up date";
    FieldBeneficiaries => "ผู้รับบริการที่เชื่อมโยง", "Linked beneficiaries";
    FieldDeleted => "ลบแล้ว", "Deleted";
    FieldName => "ชื่อ-นามสกุล", "Name";
    FieldPhone => "เบอร์โทรศัพท์", "Phone";
    FieldBirthYear => "ปีเกิด", "Birth year";
    FieldConsent => "ความยินยอมให้เก็บข้อมูล", "Consent to keep data";
    FieldMergedInto => "รวมเข้ากับรายการ", "Merged into";
    NoBeneficiaries => "ยังไม่มีผู้รับบริการที่เชื่อมโยง", "No linked beneficiaries.";
    RecordConflicts => "ข้อมูลขัดแย้งของรายการนี้", "Conflicts in this record";
    RecordConflictsIntro => "ข้อมูลต่อไปนี้ถูกแก้ไขพร้อมกันจากหลายเครื่อง:", "These values were edited on several devices at once:";
    ReviewConflicts => "ตรวจสอบและแก้ไข", "Review and resolve";
    HistoryHeading => "ประวัติการแก้ไข", "Change history";
    ColWhen => "เวลา", "When";
    ColWho => "ผู้แก้ไข", "By";
    ColDevice => "อุปกรณ์", "Device";
    ColWrites => "ข้อมูลที่บันทึก", "Values written";
    NoHistory => "ไม่มีประวัติการแก้ไข", "No changes recorded.";

    // Beneficiary detail.
    BeneficiaryTitle => "ข้อมูลผู้รับบริการ", "Beneficiary";

    // Conflicts.
    ConflictsTitle => "ข้อมูลขัดแย้ง", "Conflicts";
    ConflictsIntro => "รายการต่อไปนี้ถูกแก้ไขพร้อมกันจากหลายเครื่อง ระบบเก็บค่าที่ขัดแย้งกันไว้ทุกค่า กรุณาเลือกค่าที่ถูกต้อง หรือพิมพ์ค่าใหม่", "These records were edited on several devices at once. Every competing value is kept: keep the right one, or type a new one.";
    NoConflicts => "ไม่มีข้อมูลขัดแย้งที่รอตรวจสอบ", "No conflicts to review.";
    CollectionSessions => "บันทึกการช่วยเหลือ", "Session";
    CollectionBeneficiaries => "ผู้รับบริการ", "Beneficiary";
    OpenRecord => "เปิดดูรายการ", "Open the record";
    ChooseValue => "เลือกค่าที่ถูกต้อง", "Choose the right value";
    ValueBy => "โดย", "by";
    ShownNow => "ค่าที่แสดงอยู่ขณะนี้", "shown now";
    UseNewValue => "ใช้ค่าใหม่ที่พิมพ์เอง (กรอกด้านล่าง)", "Use a new value (type it below)";
    NewValue => "ค่าใหม่", "New value";
    ResolveButton => "บันทึกค่าที่เลือก", "Save this choice";
    ListAllConflicts => "ดูข้อมูลขัดแย้งทั้งหมด", "See all conflicts";
    Linked => "เชื่อมโยง", "linked";
    Unlinked => "ไม่เชื่อมโยง", "not linked";

    // Devices.
    DevicesTitle => "อุปกรณ์", "Devices";
    DevicesIntro => "โทรศัพท์ที่ผูกกับผู้ใช้ของศูนย์ แถวที่มีเครื่องหมายคือเครื่องที่ควรตรวจสอบ", "Phones bound to the centre's users. Marked rows need a look.";
    NoDevices => "ยังไม่มีอุปกรณ์ที่ผูกกับผู้ใช้", "No devices are bound.";
    ColDeviceId => "รหัสอุปกรณ์", "Device";
    ColLastSeen => "ใช้งานล่าสุด", "Last seen";
    ColLastSync => "ส่งข้อมูลล่าสุด", "Last sync";
    ColAcked => "รายการที่รับแล้ว", "Changes received";
    ColRejected => "ถูกปฏิเสธ (7 วัน)", "Rejected (7 days)";
    ColClock => "นาฬิกาเครื่องเทียบกับเซิร์ฟเวอร์", "Clock against the server";
    ClockHint => "ค่าบวกหมายถึงนาฬิกาของเครื่องเร็วกว่าเซิร์ฟเวอร์ หากคลาดเกิน 5 นาที ควรให้อาสาสมัครตั้งเวลาเครื่องให้ถูกต้อง", "A positive offset means the phone's clock is ahead of the server. Past 5 minutes, ask the volunteer to set the phone's time.";
    FlagSkewed => "นาฬิกาเครื่องคลาดเคลื่อน", "Clock is off";
    FlagStale => "ไม่ได้ส่งข้อมูลเกิน 3 วัน", "No sync for 3 days";
    FlagOk => "ปกติ", "OK";
    Unknown => "ไม่ทราบ", "Unknown";
    Unbind => "ยกเลิกการผูกอุปกรณ์", "Unbind device";
    UnbindWarning => "เครื่องนี้จะออกจากระบบทันที ข้อมูลที่ยังไม่ได้ส่งจะยังอยู่ในเครื่อง และจะถูกส่งเมื่อมีผู้เข้าสู่ระบบบนเครื่องนี้อีกครั้ง ใช้เมื่อเครื่องสูญหายหรือเปลี่ยนเครื่องใหม่", "The phone is signed out at once. Changes it has not synced stay on it and are sent when someone signs in on it again. Use this for a lost or replaced phone.";

    // Volunteers.
    VolunteersTitle => "อาสาสมัคร", "Volunteers";
    VolunteersIntro => "ผู้ใช้งานของศูนย์", "The centre's users";
    NoUsers => "ยังไม่มีผู้ใช้งาน", "No users yet.";
    ColDisplayName => "ชื่อที่แสดง", "Display name";
    ColUsername => "ชื่อผู้ใช้", "Username";
    ColRole => "บทบาท", "Role";
    ColAccount => "สถานะบัญชี", "Account";
    ColDevices => "จำนวนอุปกรณ์", "Devices";
    AccountActive => "ใช้งานได้", "Active";
    AccountDisabled => "ระงับการใช้งาน", "Disabled";
    You => "(คุณ)", "(you)";
    Disable => "ระงับการใช้งาน", "Disable";
    Enable => "เปิดใช้งาน", "Enable";
    DisableWarning => "ผู้ใช้จะออกจากระบบทุกเครื่องทันที ข้อมูลที่ยังไม่ได้ส่งจะไม่สูญหาย", "The user is signed out on every device at once. Nothing unsynced is lost.";
    ResetPassword => "ตั้งรหัสผ่านใหม่", "Reset password";
    NewPassword => "รหัสผ่านใหม่ (อย่างน้อย 8 ตัวอักษร)", "New password (at least 8 characters)";
    ManageAccounts => "จัดการบัญชีผู้ใช้", "Manage accounts";
    Rename => "เปลี่ยนชื่อที่แสดง", "Change display name";
    NewDisplayName => "ชื่อที่แสดงใหม่", "New display name";
    CreateVolunteer => "เพิ่มอาสาสมัคร", "Add a volunteer";
    UsernameHint => "3–64 ตัวอักษร ใช้ได้เฉพาะ a–z, 0–9, จุด (.), ขีดล่าง (_) และขีด (-)", "3 to 64 characters: a–z, 0–9, dot (.), underscore (_) and hyphen (-).";
    PasswordHint => "อย่างน้อย 8 ตัวอักษร แจ้งรหัสผ่านให้อาสาสมัครด้วยตนเอง", "At least 8 characters. Give it to the volunteer in person.";
    DisplayNameHint => "ชื่อ-นามสกุลที่ผู้จัดการและรายงานจะเห็น", "The name managers and reports show.";

    // Programme.
    ProgrammeTitle => "ภาพรวมโครงการ", "Programme overview";
    Period => "ช่วงเวลา", "Period";
    TotalSessions => "จำนวนครั้งที่ให้ความช่วยเหลือ", "Help sessions";
    TotalPeople => "จำนวนผู้ได้รับความช่วยเหลือ (คน-ครั้ง)", "People helped";
    TotalBeneficiaries => "ผู้รับบริการ (ไม่นับซ้ำ)", "Unique beneficiaries";
    TotalHours => "ชั่วโมงการช่วยเหลือ", "Hours of help";
    TotalActive => "อาสาสมัครที่มีผลงาน", "Active volunteers";
    TotalMeeting => "อาสาสมัครที่ถึงเป้าหมาย 1:4", "Volunteers meeting the 1:4 target";
    TotalTarget => "เป้าหมายต่ออาสาสมัคร (คน)", "Target per volunteer (people)";
    ChartWeeks => "การช่วยเหลือรายสัปดาห์", "Help per week";
    ChartHelpTypes => "แยกตามประเภทการช่วยเหลือ", "By type of help";
    ChartVillages => "แยกตามหมู่บ้าน", "By village";
    ChartVolunteers => "ผลงานอาสาสมัครเทียบกับเป้าหมาย", "Volunteers against the target";
    ColWeekOf => "สัปดาห์เริ่มวันที่", "Week of";
    ColSessions => "จำนวนครั้ง", "Sessions";
    ColPeopleHelped => "ผู้ได้รับความช่วยเหลือ (คน)", "People helped";
    ColTarget => "เทียบกับเป้าหมาย", "Against the target";
    MeetsTarget => "ถึงเป้าหมาย", "Meets the target";
    BelowTarget => "ยังไม่ถึงเป้าหมาย", "Below the target";
    NoData => "ยังไม่มีข้อมูลในช่วงเวลานี้", "No data for this period.";
    ChartData => "ตัวเลขของแผนภูมิ", "The chart's numbers";

    // Error pages.
    Error403 => "ไม่มีสิทธิ์เข้าถึงหน้านี้", "You may not see this page";
    Error403Body => "บัญชีของคุณไม่มีสิทธิ์ดูหรือแก้ไขข้อมูลนี้ หากคิดว่าไม่ถูกต้อง กรุณาติดต่อผู้ดูแลระบบ", "Your account may not see or change this. If that is wrong, please contact your administrator.";
    Error404 => "ไม่พบหน้าที่ต้องการ", "Page not found";
    Error404Body => "ลิงก์อาจไม่ถูกต้อง หรือรายการนี้ถูกลบไปแล้ว", "The link may be wrong, or the record was removed.";
    Error500 => "ระบบขัดข้องชั่วคราว", "Something went wrong";
    Error500Body => "ขออภัย ระบบไม่สามารถทำรายการได้ในขณะนี้ กรุณาลองใหม่อีกครั้งในภายหลัง", "Sorry, the server could not do this just now. Please try again later.";
    ErrorOther => "ไม่สามารถทำรายการได้", "This could not be done";
    ErrorCode => "รหัสข้อผิดพลาด", "Error code";
    GoHome => "กลับสู่หน้าหลัก", "Back to the start";
}

/// The label of a help type code; the code itself for a code this version
/// does not know (a newer app may send one).
pub fn help_type_label(lang: Lang, code: &str) -> String {
    let (th, en) = match code {
        "digital_literacy" => ("ทักษะการใช้งานดิจิทัล", "Digital skills"),
        "e_government" => ("บริการภาครัฐออนไลน์", "Online government services"),
        "welfare_rights" => ("สิทธิสวัสดิการของรัฐ", "Welfare rights"),
        "online_safety" => ("ความปลอดภัยออนไลน์", "Online safety"),
        "fake_news" => ("ข่าวปลอม", "Fake news"),
        "personal_data" => ("การคุ้มครองข้อมูลส่วนบุคคล", "Personal data protection"),
        "e_commerce" => ("การค้าออนไลน์", "Online selling"),
        "device_setup" => ("การตั้งค่าอุปกรณ์", "Device set-up"),
        "other" => ("อื่น ๆ", "Other"),
        _ => return code.to_owned(),
    };
    pick(lang, th, en).to_owned()
}

/// The label of an outcome code; the code itself when unknown.
pub fn outcome_label(lang: Lang, code: &str) -> String {
    let (th, en) = match code {
        "resolved" => ("แก้ไขได้แล้ว", "Resolved"),
        "referred" => ("ส่งต่อหน่วยงาน", "Referred"),
        "follow_up" => ("ต้องติดตามผล", "Needs follow-up"),
        "unresolved" => ("ยังแก้ไขไม่ได้", "Unresolved"),
        _ => return code.to_owned(),
    };
    pick(lang, th, en).to_owned()
}

/// The label of a record key (`notes`, `beneficiary_ids/<uuid>`, ...); the
/// key itself when unknown.
pub fn field_label(lang: Lang, key: &str) -> String {
    let field = key.split_once('/').map_or(key, |(f, _)| f);
    let text = match field {
        "centre_id" => Text::FieldCentre,
        "volunteer_id" => Text::FieldVolunteer,
        "village_code" => Text::FieldVillage,
        "help_type" => Text::FieldHelpType,
        "started_at" => Text::FieldStartedAt,
        "duration_min" => Text::FieldDuration,
        "people_helped" => Text::FieldPeople,
        "outcome" => Text::FieldOutcome,
        "notes" => Text::FieldNotes,
        "follow_up_on" => Text::FieldFollowUp,
        "beneficiary_ids" => Text::FieldBeneficiaries,
        "display_name" => Text::FieldName,
        "phone" => Text::FieldPhone,
        "birth_year" => Text::FieldBirthYear,
        "consent" => Text::FieldConsent,
        "merged_into" => Text::FieldMergedInto,
        "_deleted" => Text::FieldDeleted,
        _ => return key.to_owned(),
    };
    lang.t(text).to_owned()
}

/// A plain-language message for an error code a form can get back. Unknown
/// codes get a general message (the page shows the code beside it).
pub fn error_message(lang: Lang, code: &str) -> &'static str {
    let (th, en) = match code {
        "invalid_credentials" => (
            "ชื่อผู้ใช้หรือรหัสผ่านไม่ถูกต้อง",
            "The username or password is not correct.",
        ),
        "too_many_requests" => (
            "มีการพยายามเข้าสู่ระบบหลายครั้งเกินไป กรุณารอสักครู่แล้วลองใหม่",
            "Too many attempts. Please wait a few minutes and try again.",
        ),
        "account_disabled" => (
            "บัญชีนี้ถูกระงับการใช้งาน กรุณาติดต่อผู้ดูแลระบบ",
            "This account is disabled. Please contact your administrator.",
        ),
        "forbidden" => (
            "คุณไม่มีสิทธิ์ทำรายการนี้",
            "You are not allowed to do this.",
        ),
        "heads_changed" => (
            "มีการแก้ไขใหม่เข้ามาระหว่างที่คุณกำลังตรวจสอบ ด้านล่างคือข้อมูลล่าสุด กรุณาตรวจสอบและเลือกอีกครั้ง",
            "Another edit arrived meanwhile. Here is the new state: please check it and choose again.",
        ),
        "not_in_conflict" => (
            "ข้อมูลนี้ไม่มีความขัดแย้งแล้ว อาจมีผู้อื่นแก้ไขไปก่อนหน้านี้",
            "This value is no longer in conflict; someone may have resolved it already.",
        ),
        "invalid_text" => (
            "ข้อความว่างเปล่า หรือมีอักขระที่ใช้ไม่ได้",
            "The text is empty or has characters that cannot be used.",
        ),
        "invalid_username" => (
            "ชื่อผู้ใช้ต้องยาว 3–64 ตัวอักษร ใช้ได้เฉพาะ a–z, 0–9, จุด (.), ขีดล่าง (_) และขีด (-)",
            "A username is 3 to 64 characters: a–z, 0–9, dot (.), underscore (_) and hyphen (-).",
        ),
        "weak_password" => (
            "รหัสผ่านต้องมีอย่างน้อย 8 ตัวอักษร",
            "A password needs at least 8 characters.",
        ),
        "username_taken" => (
            "ชื่อผู้ใช้นี้มีผู้ใช้แล้ว กรุณาเลือกชื่ออื่น",
            "This username is taken; please choose another.",
        ),
        "invalid_value" => (
            "ค่าที่กรอกไม่ถูกต้อง กรุณาตรวจสอบอีกครั้ง",
            "This value is not valid; please check it.",
        ),
        "too_long" => ("ข้อความยาวเกินกำหนด", "The text is too long."),
        "invalid_type" => (
            "รูปแบบของค่าไม่ถูกต้อง เช่น ช่องนี้ต้องเป็นตัวเลข",
            "The value has the wrong form (for example, this needs a number).",
        ),
        "csrf" => (
            "แบบฟอร์มหมดอายุ กรุณาโหลดหน้านี้ใหม่แล้วลองอีกครั้ง",
            "The form was out of date. Please reload the page and try again.",
        ),
        "expired" => (
            "หมดเวลาการใช้งาน กรุณาเข้าสู่ระบบอีกครั้ง",
            "Your sign-in has ended. Please sign in again.",
        ),
        "confirm_mismatch" => (
            "รหัสที่พิมพ์ไม่ตรงกับรหัสอุปกรณ์ จึงยังไม่ได้ยกเลิกการผูก",
            "The code you typed does not match the device, so nothing was changed.",
        ),
        "invalid_date" => (
            "วันที่ไม่ถูกต้อง",
            "This date is not valid.",
        ),
        "invalid_range" => (
            "วันที่เริ่มต้องไม่อยู่หลังวันที่สิ้นสุด",
            "The start date may not be after the end date.",
        ),
        "too_broad" => (
            "มีอาสาสมัครที่ชื่อตรงกันมากเกินไป กรุณาพิมพ์ชื่อให้ละเอียดขึ้น",
            "Too many volunteers match this name; please type more of it.",
        ),
        "console_for_managers" => (
            "ระบบนี้สำหรับผู้จัดการศูนย์และผู้ดูแลระบบ อาสาสมัครกรุณาใช้แอปบนโทรศัพท์",
            "This console is for centre managers and administrators; volunteers use the phone app.",
        ),
        "not_found" => (
            "ไม่พบรายการนี้ อาจถูกลบไปแล้ว",
            "This record was not found; it may have been removed.",
        ),
        _ => (
            "เกิดข้อผิดพลาด กรุณาลองใหม่อีกครั้ง",
            "Something went wrong. Please try again.",
        ),
    };
    pick(lang, th, en)
}

/// Whether [`error_message`] has a message of its own for this code.
pub fn is_known_error(code: &str) -> bool {
    error_message(Lang::En, code) != error_message(Lang::En, "")
}

fn pick(lang: Lang, th: &'static str, en: &'static str) -> &'static str {
    match lang {
        Lang::Th => th,
        Lang::En => en,
    }
}

/// `1234567` as `1,234,567` (both languages group by thousands).
pub fn number(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A signed number, grouped, with a true minus sign.
pub fn signed_number(n: i64) -> String {
    let grouped = number(n.unsigned_abs());
    if n < 0 {
        format!("\u{2212}{grouped}")
    } else {
        grouped
    }
}

/// "รายการที่ 1–50 จาก 1,234"; `first`/`last` are 1-based and inclusive.
pub fn results_summary(lang: Lang, first: u64, last: u64, total: u64) -> String {
    let (first, last, total) = (number(first), number(last), number(total));
    match lang {
        Lang::Th => format!("รายการที่ {first}–{last} จาก {total}"),
        Lang::En => format!("Showing {first}–{last} of {total}"),
    }
}

/// A duration in minutes: "45 นาที", "1 ชม. 30 นาที".
pub fn duration_minutes(lang: Lang, minutes: i64) -> String {
    let (h, m) = (minutes / 60, minutes % 60);
    let (hu, mu) = match lang {
        Lang::Th => ("ชม.", "นาที"),
        Lang::En => ("h", "min"),
    };
    match (h, m) {
        (0, m) => format!("{m} {mu}"),
        (h, 0) => format!("{h} {hu}"),
        (h, m) => format!("{h} {hu} {m} {mu}"),
    }
}

/// Hours of help from minutes, with one decimal: "12.5".
pub fn hours(minutes: u64) -> String {
    let tenths = (minutes * 10 + 30) / 60;
    format!("{}.{}", number(tenths / 10), tenths % 10)
}

/// A clock offset: "+3 วัน 2 ชม.", "−1 นาที", "0 วินาที" (the two largest units).
pub fn clock_offset(lang: Lang, offset_ms: i64) -> String {
    let secs = offset_ms.unsigned_abs() / 1000;
    let units: [(u64, &str, &str); 4] = [
        (secs / 86_400, "วัน", "d"),
        (secs % 86_400 / 3_600, "ชม.", "h"),
        (secs % 3_600 / 60, "นาที", "min"),
        (secs % 60, "วินาที", "s"),
    ];
    let parts: Vec<String> = units
        .iter()
        .skip_while(|(n, _, _)| *n == 0)
        .take(2)
        .filter(|(n, _, _)| *n > 0)
        .map(|(n, th, en)| format!("{n} {}", pick(lang, th, en)))
        .collect();
    if parts.is_empty() {
        return format!("0 {}", pick(lang, "วินาที", "s"));
    }
    let sign = if offset_ms < 0 { "\u{2212}" } else { "+" };
    format!("{sign}{}", parts.join(" "))
}

/// How long ago, in the largest whole unit: "3 วันที่แล้ว", "just now".
/// `None` for a time in the future.
pub fn ago(lang: Lang, at: i64, now: i64) -> Option<String> {
    let secs = now.checked_sub(at)?;
    if secs < 0 {
        return None;
    }
    let (n, th, en) = match secs {
        0..=59 => return Some(pick(lang, "เมื่อสักครู่", "just now").to_owned()),
        60..=3_599 => (secs / 60, "นาที", "min"),
        3_600..=86_399 => (secs / 3_600, "ชั่วโมง", "h"),
        _ => (secs / 86_400, "วัน", "d"),
    };
    Some(match lang {
        Lang::Th => format!("{n} {th}ที่แล้ว"),
        Lang::En => format!("{n} {en} ago"),
    })
}

const TH_MONTHS: [&str; 12] = [
    "ม.ค.",
    "ก.พ.",
    "มี.ค.",
    "เม.ย.",
    "พ.ค.",
    "มิ.ย.",
    "ก.ค.",
    "ส.ค.",
    "ก.ย.",
    "ต.ค.",
    "พ.ย.",
    "ธ.ค.",
];
const EN_MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn bangkok() -> FixedOffset {
    FixedOffset::east_opt(7 * 3600).expect("+07:00 is a valid offset")
}

fn date_words(lang: Lang, d: &impl Datelike) -> String {
    let month = d.month0() as usize;
    match lang {
        Lang::Th => format!("{} {} {}", d.day(), TH_MONTHS[month], d.year() + 543),
        Lang::En => format!("{} {} {}", d.day(), EN_MONTHS[month], d.year()),
    }
}

fn date_time_words(lang: Lang, t: &DateTime<FixedOffset>) -> String {
    let date = date_words(lang, t);
    let clock = format!("{:02}:{:02}", t.hour(), t.minute());
    match lang {
        Lang::Th => format!("{date} {clock} น."),
        Lang::En => format!("{date}, {clock}"),
    }
}

/// A moment (unix seconds) in Thailand's time: "28 พ.ย. 2569 09:30 น.",
/// "28 Nov 2026, 09:30".
pub fn date_time(lang: Lang, unix_secs: i64) -> String {
    match DateTime::<Utc>::from_timestamp(unix_secs, 0) {
        Some(t) => date_time_words(lang, &t.with_timezone(&bangkok())),
        None => unix_secs.to_string(),
    }
}

/// An RFC 3339 time as a volunteer wrote it, shown in Thailand's time; the
/// text itself when it does not parse.
pub fn written_time(lang: Lang, rfc3339: &str) -> String {
    match DateTime::parse_from_rfc3339(rfc3339) {
        Ok(t) => date_time_words(lang, &t.with_timezone(&bangkok())),
        Err(_) => rfc3339.to_owned(),
    }
}

/// A `YYYY-MM-DD` date: "28 พ.ย. 2569"; the text itself when it does not parse.
pub fn date(lang: Lang, ymd: &str) -> String {
    match NaiveDate::parse_from_str(ymd, "%Y-%m-%d") {
        Ok(d) => date_words(lang, &d),
        Err(_) => ymd.to_owned(),
    }
}

/// A short day and month for chart axes: "23 พ.ย.", "23 Nov".
pub fn short_date(lang: Lang, ymd: &str) -> String {
    match NaiveDate::parse_from_str(ymd, "%Y-%m-%d") {
        Ok(d) => {
            let month = d.month0() as usize;
            let name = pick(lang, TH_MONTHS[month], EN_MONTHS[month]);
            format!("{} {name}", d.day())
        }
        Err(_) => ymd.to_owned(),
    }
}

/// The accessible name of the conflicts badge: "3 รายการรอตรวจสอบ".
pub fn waiting_count(lang: Lang, n: u64) -> String {
    format!("{} {}", number(n), lang.t(Text::ConflictsWaiting))
}

/// The label of the unbind confirmation field.
pub fn unbind_confirm_label(lang: Lang, short_id: &str) -> String {
    match lang {
        Lang::Th => format!("พิมพ์รหัสอุปกรณ์ {short_id} เพื่อยืนยัน"),
        Lang::En => format!("Type the device code {short_id} to confirm"),
    }
}

/// The label of a record in the conflicts list: "บันทึกการช่วยเหลือของ สมชาย ใจดี".
pub fn record_of(lang: Lang, collection_label: &str, who: &str) -> String {
    match lang {
        Lang::Th => format!("{collection_label}ของ {who}"),
        Lang::En => format!("{collection_label} by {who}"),
    }
}

/// The target line's label: "เป้าหมาย 4 คน".
pub fn target_label(lang: Lang, target: u64) -> String {
    match lang {
        Lang::Th => format!("เป้าหมาย {} คน", number(target)),
        Lang::En => format!("Target: {}", number(target)),
    }
}

/// What a chart shows, for screen readers: "12 สัปดาห์ สูงสุด 40".
pub fn chart_summary(lang: Lang, items: usize, max: u64) -> String {
    match lang {
        Lang::Th => format!("{} รายการ ค่าสูงสุด {}", items, number(max)),
        Lang::En => format!("{} items, highest {}", items, number(max)),
    }
}

/// "อาสาสมัคร 12 คนจาก 20 คนถึงเป้าหมาย".
pub fn meeting_summary(lang: Lang, meeting: u64, active: u64) -> String {
    match lang {
        Lang::Th => format!(
            "อาสาสมัคร {} คนจาก {} คนถึงเป้าหมาย",
            number(meeting),
            number(active)
        ),
        Lang::En => format!(
            "{} of {} volunteers meet the target",
            number(meeting),
            number(active)
        ),
    }
}

/// The page title after the product name: "บันทึกการช่วยเหลือ · Asa Sync".
pub fn page_title(lang: Lang, title: &str) -> String {
    format!("{title} · {}", lang.t(Text::ProductName))
}

/// A history entry's device: "เครื่อง 1a2b3c4d".
pub fn device_named(lang: Lang, short_id: &str) -> String {
    match lang {
        Lang::Th => format!("เครื่อง {short_id}"),
        Lang::En => format!("device {short_id}"),
    }
}

/// The accessible name of a per-row form: "ตั้งรหัสผ่านใหม่: สมชาย ใจดี".
pub fn action_for(action: &str, who: &str) -> String {
    format!("{action}: {who}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lang_parses_and_defaults_to_thai() {
        assert_eq!(Lang::parse("th"), Some(Lang::Th));
        assert_eq!(Lang::parse("en"), Some(Lang::En));
        assert_eq!(Lang::parse("EN"), None);
        assert_eq!(Lang::from_param(None), Lang::Th);
        assert_eq!(Lang::from_param(Some("fr")), Lang::Th);
        assert_eq!(Lang::from_param(Some("en")), Lang::En);
        assert_eq!(Lang::default(), Lang::Th);
        assert_eq!(Lang::Th.other(), Lang::En);
        assert_eq!(Lang::En.code(), "en");
    }

    #[test]
    fn every_text_has_both_languages() {
        for text in Text::ALL {
            assert!(!Lang::Th.t(*text).is_empty(), "{text:?}");
            assert!(!Lang::En.t(*text).is_empty(), "{text:?}");
        }
        assert_eq!(Lang::Th.t(Text::SignIn), "เข้าสู่ระบบ");
        assert_eq!(Lang::Th.t(Text::SignOut), "ออกจากระบบ");
        assert_eq!(Lang::Th.t(Text::NavSessions), "บันทึกการช่วยเหลือ");
        assert_eq!(Lang::Th.t(Text::NavConflicts), "ข้อมูลขัดแย้ง");
        assert_eq!(Lang::Th.t(Text::NavProgramme), "ภาพรวมโครงการ");
    }

    #[test]
    fn every_help_type_and_outcome_has_labels() {
        for code in sync_core::schema::HELP_TYPES {
            for lang in Lang::ALL {
                assert_ne!(help_type_label(lang, code), *code);
            }
        }
        for code in sync_core::schema::OUTCOMES {
            for lang in Lang::ALL {
                assert_ne!(outcome_label(lang, code), *code);
            }
        }
        assert_eq!(help_type_label(Lang::En, "new_kind"), "new_kind");
    }

    #[test]
    fn every_form_error_code_has_a_message() {
        for code in [
            "invalid_credentials",
            "too_many_requests",
            "account_disabled",
            "forbidden",
            "heads_changed",
            "not_in_conflict",
            "invalid_text",
            "invalid_username",
            "weak_password",
            "username_taken",
            "invalid_value",
            "too_long",
            "invalid_type",
            "csrf",
            "expired",
        ] {
            assert!(is_known_error(code), "{code}");
            assert_ne!(error_message(Lang::Th, code), error_message(Lang::En, code));
        }
        assert!(!is_known_error("internal"));
        assert_eq!(
            error_message(Lang::Th, "internal"),
            "เกิดข้อผิดพลาด กรุณาลองใหม่อีกครั้ง"
        );
    }

    #[test]
    fn numbers_group_by_thousands() {
        assert_eq!(number(0), "0");
        assert_eq!(number(999), "999");
        assert_eq!(number(1234), "1,234");
        assert_eq!(number(1234567), "1,234,567");
        assert_eq!(signed_number(-1500), "\u{2212}1,500");
        assert_eq!(
            results_summary(Lang::Th, 1, 50, 1234),
            "รายการที่ 1–50 จาก 1,234"
        );
    }

    #[test]
    fn offsets_read_like_a_person_says_them() {
        let day = 86_400_000;
        let hour = 3_600_000;
        assert_eq!(clock_offset(Lang::Th, 3 * day + 2 * hour), "+3 วัน 2 ชม.");
        assert_eq!(clock_offset(Lang::Th, -60_000), "\u{2212}1 นาที");
        assert_eq!(clock_offset(Lang::En, -60_000), "\u{2212}1 min");
        assert_eq!(clock_offset(Lang::Th, 0), "0 วินาที");
        assert_eq!(clock_offset(Lang::Th, 999), "0 วินาที");
        assert_eq!(clock_offset(Lang::En, day + 59_000), "+1 d");
        assert_eq!(clock_offset(Lang::En, 61_000), "+1 min 1 s");
        assert_eq!(
            clock_offset(Lang::En, i64::MIN).chars().next(),
            Some('\u{2212}')
        );
    }

    #[test]
    fn durations_and_hours() {
        assert_eq!(duration_minutes(Lang::Th, 45), "45 นาที");
        assert_eq!(duration_minutes(Lang::Th, 90), "1 ชม. 30 นาที");
        assert_eq!(duration_minutes(Lang::En, 120), "2 h");
        assert_eq!(hours(0), "0.0");
        assert_eq!(hours(90), "1.5");
        assert_eq!(hours(60_000), "1,000.0");
    }

    #[test]
    fn dates_are_in_bangkok_time_and_the_buddhist_era() {
        // 2026-11-28T02:30:00Z is 09:30 in Bangkok.
        let t = 1_795_833_000;
        assert_eq!(date_time(Lang::Th, t), "28 พ.ย. 2569 09:30 น.");
        assert_eq!(date_time(Lang::En, t), "28 Nov 2026, 09:30");
        assert_eq!(
            written_time(Lang::Th, "2026-11-28T09:30:00+07:00"),
            "28 พ.ย. 2569 09:30 น."
        );
        assert_eq!(
            written_time(Lang::En, "2026-11-28T02:30:00Z"),
            "28 Nov 2026, 09:30"
        );
        assert_eq!(written_time(Lang::En, "yesterday"), "yesterday");
        assert_eq!(date(Lang::Th, "2026-01-05"), "5 ม.ค. 2569");
        assert_eq!(short_date(Lang::En, "2026-01-05"), "5 Jan");
        assert_eq!(date(Lang::Th, "not a date"), "not a date");
    }

    #[test]
    fn ago_in_the_largest_unit() {
        assert_eq!(ago(Lang::Th, 100, 130).as_deref(), Some("เมื่อสักครู่"));
        assert_eq!(
            ago(Lang::Th, 0, 3 * 86_400 + 5).as_deref(),
            Some("3 วันที่แล้ว")
        );
        assert_eq!(ago(Lang::En, 0, 7_200).as_deref(), Some("2 h ago"));
        assert_eq!(ago(Lang::En, 10, 0), None);
        assert_eq!(ago(Lang::En, i64::MIN, i64::MAX), None);
    }
}
