// Read .ics files with ical.js and print, per file, every VEVENT's UID and its
// start/end as UTC instants (or dates), so the Python tests can compare them with
// what icalendar reads.
//   node read_ics.mjs FILE... > out.json     one JSON object {path: entry} for the files
//   node read_ics.mjs --serve                each stdin line a JSON list of paths, each
//                                            answered by one line {path: entry}; the
//                                            tests keep one such reader per process, since
//                                            starting node costs more than reading a file
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import ICAL from "ical.js";

function instant(time) {
  if (!time) return null;
  if (time.isDate) return { date: time.toString() };
  if (time.zone === ICAL.Timezone.localTimezone && !time.timezone) {
    return { floating: time.toString() };
  }
  return { utc: time.toJSDate().toISOString().replace(".000Z", "Z") };
}

function read(path) {
  const entry = { events: [], error: null };
  try {
    // each file on its own: a VTIMEZONE registered for an earlier file must not help this one
    ICAL.TimezoneService.reset();
    const root = new ICAL.Component(ICAL.parse(readFileSync(path, "utf8")));
    for (const tz of root.getAllSubcomponents("vtimezone")) {
      ICAL.TimezoneService.register(tz);
    }
    for (const vevent of root.getAllSubcomponents("vevent")) {
      const event = new ICAL.Event(vevent);
      entry.events.push({
        uid: event.uid,
        summary: event.summary,
        start: instant(event.startDate),
        end: instant(event.endDate),
        status: vevent.getFirstPropertyValue("status"),
        sequence: vevent.getFirstPropertyValue("sequence"),
      });
    }
  } catch (err) {
    entry.error = String(err && err.message ? err.message : err);
  }
  return entry;
}

function readAll(paths) {
  const result = {};
  for (const path of paths) result[path] = read(path);
  return result;
}

if (process.argv[2] === "--serve") {
  for await (const line of createInterface({ input: process.stdin })) {
    process.stdout.write(JSON.stringify(readAll(JSON.parse(line))) + "\n");
  }
} else {
  process.stdout.write(JSON.stringify(readAll(process.argv.slice(2))));
}
