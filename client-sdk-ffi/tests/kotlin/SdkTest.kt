// The Kotlin bindings on the JVM against a real server, run by
// client-sdk-ffi/tests/bindings/kotlin.rs (`cargo test -p client-sdk-ffi`,
// with ASA_KOTLIN_TESTS=1). The same calls an Android app makes.
//
// The harness gives the server's address in ASA_SERVER and a scratch
// directory in ASA_SCRATCH, and answers requests written as JSON lines on
// standard output; this program's own output goes to standard error.

import java.time.OffsetDateTime
import java.time.ZoneOffset
import java.time.temporal.ChronoUnit
import java.util.UUID
import java.util.concurrent.CopyOnWriteArrayList
import kotlin.concurrent.thread
import kotlin.system.exitProcess
import org.asasync.sdk.AsaClient
import org.asasync.sdk.AsaException
import org.asasync.sdk.ClientConfig
import org.asasync.sdk.Collection
import org.asasync.sdk.FieldEdit
import org.asasync.sdk.FieldValue
import org.asasync.sdk.Key
import org.asasync.sdk.NewBeneficiary
import org.asasync.sdk.NewSession
import org.asasync.sdk.Query
import org.asasync.sdk.Role
import org.asasync.sdk.SyncObserver
import org.asasync.sdk.SyncOptions
import org.asasync.sdk.SyncReport
import org.asasync.sdk.SyncStatus

val server: String = System.getenv("ASA_SERVER")
val scratch: String = System.getenv("ASA_SCRATCH")

/** One request to the harness; its answer's string values by key. */
fun ask(json: String): Map<String, String> {
    println(json)
    System.out.flush()
    val answer = readLine() ?: error("the harness closed its answers")
    return Regex("\"(\\w+)\":\"([^\"]*)\"").findAll(answer).associate { it.groupValues[1] to it.groupValues[2] }
}

fun account(role: String, centre: String) = ask("{\"op\":\"account\",\"role\":\"$role\",\"centre\":\"$centre\"}")

fun config(url: String = server, maxAttempts: UInt = 5u) =
    ClientConfig(serverUrl = url, backoffBaseMs = 2uL, backoffMaxMs = 20uL, maxAttempts = maxAttempts)

fun device(who: Map<String, String>): Pair<AsaClient, String> {
    val path = "$scratch/${UUID.randomUUID()}.db"
    val client = AsaClient.open(path, config())
    client.login(who.getValue("username"), who.getValue("password"))
    return client to path
}

fun newSession(notes: String) = NewSession(
    villageCode = "10010001",
    helpType = "welfare_rights",
    startedAt = OffsetDateTime.now(ZoneOffset.ofHours(7)).truncatedTo(ChronoUnit.SECONDS).toString(),
    durationMin = 20,
    peopleHelped = 1,
    outcome = "resolved",
    notes = notes,
)

/** Every variant carries the stable code; an app reads it like this. */
val AsaException.code: String
    get() = when (this) {
        is AsaException.Invalid -> code
        is AsaException.Forbidden -> code
        is AsaException.NotFound -> code
        is AsaException.Login -> code
        is AsaException.Server -> code
        is AsaException.Unreachable -> code
        is AsaException.InvalidArgument -> code
        is AsaException.Local -> code
    }

inline fun <reified E : AsaException> raises(code: String, call: () -> Unit): E {
    try {
        call()
    } catch (e: AsaException) {
        check(e is E) { "expected ${E::class.simpleName}, got $e" }
        check(e.code == code) { "expected $code, got ${e.code}: $e" }
        return e
    }
    error("expected ${E::class.simpleName} $code")
}

fun text(value: FieldValue?): String = (value as FieldValue.Text).value

class Progress : SyncObserver {
    val reports = CopyOnWriteArrayList<SyncReport>()
    override fun progress(report: SyncReport) {
        reports.add(report)
    }
}

fun offlineEditsReachTheServerOnceSynced() {
    val vol = account("volunteer", "C0101")
    val (first, path) = device(vol)
    check(first.user()?.role == Role.VOLUNTEER)
    first.close()

    val offline = AsaClient.open(path, config("http://127.0.0.1:9", maxAttempts = 2u))
    val id = offline.createSession(newSession("ช่วยยื่นคำร้องออนไลน์"))
    offline.edit(Collection.SESSIONS, id, listOf(FieldEdit(Key.Field("duration_min"), FieldValue.Int(35))))
    check(offline.pendingCount() == 2uL)
    val e = raises<AsaException.Unreachable>("unreachable") { offline.sync() }
    check(e.isRetryable)
    offline.close()

    AsaClient.open(path, config()).use { phone ->
        val progress = Progress()
        val report = phone.syncWith(SyncOptions(), progress)
        check(report.acked == 2uL && report.pending == 0uL) { "$report" }
        check(progress.reports.isNotEmpty() && progress.reports.last().acked == 2uL)
        val record = phone.record(Collection.SESSIONS, id) ?: error("the record")
        check(record.status == SyncStatus.SYNCED)
        check(record.fields["duration_min"] == FieldValue.Int(35))
        check(text(record.fields["notes"]) == "ช่วยยื่นคำร้องออนไลน์")
    }
}

fun aConflictIsShownAndResolvedEverywhere() {
    val (a, _) = device(account("volunteer", "C0102"))
    val (m, _) = device(account("manager", "C0102"))
    val id = a.createSession(newSession("เดิม"))
    a.sync()
    m.sync()
    val notes = Key.Field("notes")
    a.edit(Collection.SESSIONS, id, listOf(FieldEdit(notes, FieldValue.Text("จากอาสา"))))
    m.edit(Collection.SESSIONS, id, listOf(FieldEdit(notes, FieldValue.Text("จากผู้จัดการ"))))
    a.sync()
    check(m.sync().conflicts == 1uL)
    a.sync()
    for (phone in listOf(a, m)) {
        val conflict = phone.conflicts().single()
        check(conflict.key == notes)
        check(conflict.heads.map { text(it.value) }.sorted() == listOf("จากผู้จัดการ", "จากอาสา"))
    }
    m.resolve(Collection.SESSIONS, id, notes, FieldValue.Text("ตกลงกันแล้ว"))
    m.sync()
    a.sync()
    for (phone in listOf(a, m)) {
        check(phone.conflicts().isEmpty())
        check(text(phone.record(Collection.SESSIONS, id)?.fields?.get("notes")) == "ตกลงกันแล้ว")
    }
}

fun errorsAreTypedExceptions() {
    val vol = account("volunteer", "C0103")
    val (phone, _) = device(vol)
    val bad = newSession("x").copy(villageCode = "12")
    val e = raises<AsaException.Invalid>("invalid_value") { phone.createSession(bad) }
    check(!e.isRetryable)
    raises<AsaException.InvalidArgument>("invalid_id") { phone.record(Collection.SESSIONS, "not-a-uuid") }
    raises<AsaException.NotFound>("not_found") { phone.delete(Collection.SESSIONS, UUID.randomUUID().toString()) }
    AsaClient.open("$scratch/wrong.db", config()).use { other ->
        raises<AsaException.Login>("invalid_credentials") { other.login(vol.getValue("username"), "wrong") }
    }
    // The account disabled: the next sync says the login ended, nothing saved is lost.
    phone.createSession(newSession("ก่อนถูกระงับ"))
    ask("{\"op\":\"disable\",\"id\":\"${vol.getValue("id")}\"}")
    raises<AsaException.Login>("token_revoked") { phone.sync() }
    check(phone.pendingCount() == 1uL)
}

fun aChangeTheServerRefusesIsListedWithItsCode() {
    val (phone, _) = device(account("volunteer", "C0105"))
    val year = java.time.LocalDate.now().year.toLong()
    // The server's clock a year and more behind: a person born this year is,
    // to the server, born in its future.
    ask("{\"op\":\"set_clock\",\"offset_ms\":${-400L * 24 * 3600 * 1000}}")
    val report = try {
        phone.createBeneficiary(NewBeneficiary("10010001", "เด็กเกิดใหม่", birthYear = year, consent = true))
        phone.createBeneficiary(NewBeneficiary("10010001", "ผู้ใหญ่", consent = true))
        phone.sync()
    } finally {
        ask("{\"op\":\"set_clock\",\"offset_ms\":0}")
    }
    check(report.acked == 2uL && report.rejected == 1uL) { "$report" }
    val rejected = phone.rejected().single()
    check(rejected.code == "out_of_range" && rejected.detail.contains("birth_year")) { "$rejected" }
    check(phone.status(Collection.BENEFICIARIES, rejected.recordId) == SyncStatus.REJECTED)
}

fun aDataBudgetIsACeiling() {
    val (phone, _) = device(account("volunteer", "C0106"))
    repeat(40) { i -> phone.createSession(newSession("งบข้อมูล $i " + "ข้อมูล".repeat(i % 9))) }
    val budget = 1500uL
    var syncs = 0
    while (true) {
        val progress = Progress()
        val report = phone.syncWith(SyncOptions(byteBudget = budget), progress)
        for (r in progress.reports + report) check(r.bytesSent + r.bytesReceived <= budget) { "$r" }
        syncs++
        if (!report.budgetExhausted) break
        check(syncs < 40) { "every sync makes progress" }
    }
    check(syncs > 2) { "$syncs syncs" }
    check(phone.pendingCount() == 0uL)
}

fun anExpiredLoginAsksToLogInAgain() {
    // Last: it moves the server's clock two months on.
    val vol = account("volunteer", "C0107")
    val (phone, _) = device(vol)
    phone.createSession(newSession("ก่อนออฟไลน์"))
    phone.sync()
    ask("{\"op\":\"advance\",\"ms\":${3L * 24 * 3600 * 1000}}")
    phone.createSession(newSession("หลังออฟไลน์"))
    check(phone.sync().acked == 1uL) { "refreshed unseen" }
    ask("{\"op\":\"advance\",\"ms\":${61L * 24 * 3600 * 1000}}")
    phone.createSession(newSession("นานมาก"))
    raises<AsaException.Login>("refresh_token_expired") { phone.sync() }
    check(phone.pendingCount() == 1uL)
    phone.login(vol.getValue("username"), vol.getValue("password"))
    check(phone.sync().acked == 1uL)
}

fun oneClientIsSharedByThreads() {
    val (phone, _) = device(account("volunteer", "C0104"))
    val workers = (0 until 4).map { w ->
        thread { repeat(10) { i -> phone.createSession(newSession("เธรด $w ครั้ง $i")) } }
    }
    var acked = 0uL
    while (workers.any { it.isAlive }) acked += phone.sync().acked
    workers.forEach { it.join() }
    acked += phone.sync().acked
    check(acked == 40uL) { "acked $acked" }
    check(phone.records(Collection.SESSIONS, Query()).size == 40)
}

fun main() {
    val tests = listOf(
        "offline edits reach the server once synced" to ::offlineEditsReachTheServerOnceSynced,
        "a conflict is shown and resolved everywhere" to ::aConflictIsShownAndResolvedEverywhere,
        "errors are typed exceptions" to ::errorsAreTypedExceptions,
        "one client is shared by threads" to ::oneClientIsSharedByThreads,
        "a change the server refuses is listed with its code" to ::aChangeTheServerRefusesIsListedWithItsCode,
        "a data budget is a ceiling" to ::aDataBudgetIsACeiling,
        "an expired login asks to log in again" to ::anExpiredLoginAsksToLogInAgain,
    )
    var failed = 0
    for ((name, test) in tests) {
        try {
            test()
            System.err.println("kotlin: $name ... ok")
        } catch (e: Throwable) {
            failed++
            System.err.println("kotlin: $name ... FAILED")
            e.printStackTrace()
        }
    }
    System.err.println("kotlin: ${tests.size - failed} passed, $failed failed")
    exitProcess(if (failed == 0) 0 else 1)
}
