// The element's stylesheet. Every colour is a private variable (`--_x`) that defaults to the
// public one (`--herald-x`) and else to the light or dark palette, so a host sets one custom
// property to theme it and the palette follows the user's colour scheme otherwise.

const LIGHT: Record<string, string> = {
  bg: '#ffffff',
  fg: '#1f2328',
  muted: '#57606a',
  border: '#d0d7de',
  accent: '#0a58b8',
  'accent-fg': '#ffffff',
  'unread-bg': '#eef5ff',
  hover: '#f3f4f6',
  'badge-bg': '#c4122f',
  'badge-fg': '#ffffff',
};

const DARK: Record<string, string> = {
  bg: '#1c2128',
  fg: '#e6edf3',
  muted: '#a3adb8',
  border: '#444c56',
  accent: '#6cb6ff',
  'accent-fg': '#0d1117',
  'unread-bg': '#1d2b3a',
  hover: '#2d333b',
  'badge-bg': '#e5534b',
  'badge-fg': '#0d1117',
};

const palette = (colors: Record<string, string>): string =>
  Object.entries(colors)
    .map(([name, value]) => `--_${name}:var(--herald-${name},${value});`)
    .join('');

export const STYLES = `
:host{${palette(LIGHT)}position:relative;display:inline-block;font:var(--herald-font,14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif)}
:host([theme=dark]){${palette(DARK)}}
@media (prefers-color-scheme:dark){:host(:not([theme=light])){${palette(DARK)}}}
[hidden]{display:none!important}
button{font:inherit;cursor:pointer}
:focus-visible{outline:2px solid var(--_accent);outline-offset:2px}
.bell{position:relative;display:inline-flex;align-items:center;justify-content:center;width:40px;height:40px;padding:0;border:0;border-radius:50%;background:transparent;color:var(--herald-bell-color,inherit)}
.bell:hover{background:color-mix(in srgb,currentColor 12%,transparent)}
.bell svg{width:24px;height:24px}
.badge{position:absolute;top:2px;right:0;min-width:18px;height:18px;padding:0 5px;box-sizing:border-box;border-radius:9px;background:var(--_badge-bg);color:var(--_badge-fg);font-size:11px;font-weight:700;line-height:18px;text-align:center}
.badge[data-zero=true]{display:none}
.panel{position:fixed;left:0;top:0;z-index:var(--herald-z-index,1000);box-sizing:border-box;width:min(var(--herald-panel-width,380px),var(--_fit-width,calc(100vw - 16px)));max-height:min(var(--herald-panel-height,min(520px,75vh)),var(--_fit-height,75vh));display:flex;flex-direction:column;background:var(--_bg);color:var(--_fg);border:1px solid var(--_border);border-radius:var(--herald-radius,10px);box-shadow:0 8px 28px rgba(0,0,0,.22);overflow:hidden}
.panel[data-layout=sheet]{top:auto;right:0;bottom:0;width:auto;max-height:85vh;max-height:85dvh;border-width:1px 0 0;border-radius:var(--herald-radius,12px) var(--herald-radius,12px) 0 0;padding-bottom:env(safe-area-inset-bottom)}
.panel:focus{outline:none}
.scrim{display:none;position:fixed;inset:0;z-index:calc(var(--herald-z-index,1000) - 1);background:var(--herald-scrim,rgba(0,0,0,.4))}
.panel[data-layout=sheet]:not([hidden])+.scrim{display:block}
header,.toolbar{display:flex;align-items:center;gap:8px;padding:8px 12px;border-bottom:1px solid var(--_border)}
header{padding:10px 12px}
h2{flex:1;margin:0;font-size:15px}
.state{font-size:12px;color:var(--_muted)}
.state::before{content:"";display:inline-block;width:8px;height:8px;margin-right:4px;border-radius:50%;background:#b08800}
.state[data-state=open]::before{background:#2da44e}
.state[data-state=closed]::before{background:var(--_badge-bg)}
.filters{flex:1;display:flex;gap:4px}
.filter,.control{min-height:26px;padding:2px 10px;border:1px solid var(--_border);border-radius:6px;background:var(--_bg);color:var(--_fg);font-size:12px}
.filter{border-radius:13px}
.filter[aria-pressed=true]{background:var(--_accent);border-color:var(--_accent);color:var(--_accent-fg)}
.link{min-height:26px;padding:4px 6px;border:0;border-radius:6px;background:transparent;color:var(--_accent);font-size:13px}
.link:hover,.control:hover,.filter[aria-pressed=false]:hover{background:var(--_hover)}
.close{width:32px;height:32px;padding:0;border:0;border-radius:6px;background:transparent;color:var(--_fg);font-size:20px;line-height:1}
.close:hover{background:var(--_hover)}
.scroll{flex:1 1 auto;min-height:0;overflow-y:auto;overscroll-behavior:contain}
ul{margin:0;padding:0;list-style:none}
li{display:flex;align-items:flex-start;gap:8px;padding:6px 12px 8px 6px;border-bottom:1px solid var(--_border)}
li[data-status=unread]{background:var(--_unread-bg)}
.avatar{flex:none;width:32px;height:32px;margin:6px 0 0 6px;border-radius:50%;object-fit:cover;background:var(--_hover)}
.body{flex:1;min-width:0}
.open{display:block;width:100%;padding:6px 8px 4px 20px;position:relative;border:0;border-radius:6px;background:transparent;color:inherit;text-align:left}
.open:hover{background:var(--_hover)}
li[data-status=unread] .open::before{content:"";position:absolute;left:6px;top:13px;width:8px;height:8px;border-radius:50%;background:var(--_accent)}
.title{display:block;font-weight:600}
.content{display:block;overflow-wrap:anywhere}
.meta{display:block;margin-top:2px;font-size:12px;color:var(--_muted)}
.actions,.controls{display:flex;flex-wrap:wrap;gap:6px;margin:4px 0 0 20px}
.action{display:inline-flex;align-items:center;min-height:28px;box-sizing:border-box;max-width:100%;padding:3px 12px;border:0;border-radius:6px;background:var(--_accent);color:var(--_accent-fg);font-size:13px;text-decoration:none;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.action:hover{background:color-mix(in srgb,var(--_accent) 85%,var(--_fg))}
.snooze-menu{display:flex;flex-direction:column;align-items:flex-start;gap:4px;margin:6px 0 0 20px}
.note{margin:0;padding:16px 12px;color:var(--_muted);text-align:center}
.error{margin:0;padding:8px 12px;color:var(--_fg);background:color-mix(in srgb,var(--_badge-bg) 18%,var(--_bg))}
.more{margin:8px auto;display:block}
footer{padding:8px 12px;border-top:1px solid var(--_border)}
footer .note{padding:4px 6px;text-align:start;font-size:13px}
.panel[data-layout=sheet] .filter,.panel[data-layout=sheet] .control,.panel[data-layout=sheet] .link,.panel[data-layout=sheet] .action{min-height:36px}
.sr{position:absolute;width:1px;height:1px;margin:-1px;padding:0;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap;border:0}
`;
