// Read .ics files with ical.js and print, per file, every VEVENT's UID and its
// start/end as UTC instants (or dates), so the Python tests can compare them with
// what icalendar reads. Usage: node read_ics.mjs FILE... > out.json
import { readFileSync } from "node:fs";
import ICAL from "ical.js";

function instant(time) {
  if (!time) return null;
  if (time.isDate) return { date: time.toString() };
  if (time.zone === ICAL.Timezone.localTimezone && !time.timezone) {
    return { floating: time.toString() };
  }
  return { utc: time.toJSDate().toISOString().replace(".000Z", "Z") };
}

const result = {};
for (const path of process.argv.slice(2)) {
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
  result[path] = entry;
}
process.stdout.write(JSON.stringify(result));
