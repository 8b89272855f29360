// The snooze choices of the inbox page (web/) and <herald-inbox>: the same offer in both.
/** What the snooze button offers; times are the user's local ones. */
export interface SnoozeChoice {
  key: string;
  label: string;
  until(now: Date): Date;
}

function atNine(day: Date): Date {
  const date = new Date(day);
  date.setHours(9, 0, 0, 0);
  return date;
}

export const SNOOZE_CHOICES: readonly SnoozeChoice[] = [
  { key: '1h', label: 'For 1 hour', until: (now) => new Date(now.getTime() + 3_600_000) },
  { key: '3h', label: 'For 3 hours', until: (now) => new Date(now.getTime() + 3 * 3_600_000) },
  {
    key: 'tomorrow',
    label: 'Until tomorrow, 9:00',
    until: (now) => {
      const day = new Date(now);
      day.setDate(day.getDate() + 1);
      return atNine(day);
    },
  },
  {
    key: 'next-week',
    label: 'Until Monday, 9:00',
    until: (now) => {
      const day = new Date(now);
      // Days to the next Monday (getDay: 0 = Sunday); a Monday snoozes a whole week.
      day.setDate(day.getDate() + (((8 - day.getDay()) % 7) || 7));
      return atNine(day);
    },
  },
];
