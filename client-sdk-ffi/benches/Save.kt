// The Kotlin side of benches/bindings.rs: one round of timed saves and one
// timed sync through the bindings on the JVM, handed to the harness as
// figures. The JIT warms up on the warm-up saves first (more of them than
// Python's: the bench asks for them).

import java.util.UUID
import org.asasync.sdk.AsaClient
import org.asasync.sdk.ClientConfig
import org.asasync.sdk.NewSession

fun ask(json: String): Map<String, String> {
    println(json)
    System.out.flush()
    val answer = readLine() ?: error("the harness closed its answers")
    return Regex("\"(\\w+)\":\"([^\"]*)\"").findAll(answer).associate { it.groupValues[1] to it.groupValues[2] }
}

fun session(i: Int) = NewSession(
    villageCode = "500102%02d".format(i % 100),
    helpType = "welfare_rights",
    startedAt = "2026-11-28T09:30:00+07:00",
    durationMin = 30L + i % 60,
    peopleHelped = 1L + i % 5,
    outcome = "resolved",
    notes = "ช่วยลงทะเบียนรับสวัสดิการแห่งรัฐ ครั้งที่ $i",
)

fun main() {
    val warmup = System.getenv("ASA_WARMUP").toInt()
    val saves = System.getenv("ASA_SAVES").toInt()
    val who = ask("{\"op\":\"account\",\"role\":\"volunteer\",\"centre\":\"C0001\"}")
    val path = "${System.getenv("ASA_SCRATCH")}/kotlin-${UUID.randomUUID()}.db"
    AsaClient.open(path, ClientConfig(serverUrl = System.getenv("ASA_SERVER"))).use { client ->
        client.login(who.getValue("username"), who.getValue("password"))
        repeat(warmup) { client.createSession(session(it)) }
        client.sync()
        val inputs = (0 until saves).map(::session)
        val timings = inputs.map { s ->
            val start = System.nanoTime()
            client.createSession(s)
            System.nanoTime() - start
        }
        val start = System.nanoTime()
        val report = client.sync()
        val syncNs = System.nanoTime() - start
        check(report.acked == saves.toULong()) { "$report" }
        ask("{\"op\":\"figures\",\"saves_ns\":[${timings.joinToString(",")}],\"sync_ns\":[$syncNs]}")
    }
}
