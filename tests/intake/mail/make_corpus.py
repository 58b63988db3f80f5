# ruff: noqa: E501, E731, RUF005
"""Writes corpus/*.eml and manifest.json next to it (run once; the files are the fixtures)."""

import base64
import json
import pathlib

out = pathlib.Path(__file__).parent / "corpus"
out.mkdir(parents=True, exist_ok=True)
DD = "DutyDesk <dutydesk@localhost>"
cases = []


def mail(name, headers, body, expect, raw=None):
    if raw is None:
        lines = [f"{k}: {v}" for k, v in headers]
        text = "\r\n".join(lines) + "\r\n\r\n"
        data = text.encode("utf-8") + (
            body if isinstance(body, bytes) else body.replace("\n", "\r\n").encode("utf-8")
        )
    else:
        data = raw
    (out / f"{name}.eml").write_bytes(data)
    cases.append({"file": f"{name}.eml", **expect})


def h(
    frm,
    subject,
    mid,
    extra=(),
    ctype="text/plain; charset=utf-8",
    date="Mon, 23 Nov 2026 10:00:00 +0100",
):
    hs = [("From", frm), ("To", DD), ("Subject", subject), ("Date", date)]
    if mid:
        hs.append(("Message-ID", mid))
    hs += list(extra)
    hs += [("MIME-Version", "1.0"), ("Content-Type", ctype)]
    return hs


DAVE = "Dave <dave@example.com>"
IRT_A = [
    ("In-Reply-To", "<0a1b2c3d4e.{{A}}@{{DOMAIN}}>"),
    ("References", "<{{A}}@{{DOMAIN}}> <0a1b2c3d4e.{{A}}@{{DOMAIN}}>"),
]
OLD = "QUOTED-OLD-TEXT from the notification"


def alt(plain, html, boundary="b1"):
    return (
        f"--{boundary}\nContent-Type: text/plain; charset=utf-8\n\n{plain}\n--{boundary}\n"
        f"Content-Type: text/html; charset=utf-8\n\n{html}\n--{boundary}--\n"
    )


C = lambda target, contains=None, excludes=None, **kw: {
    "outcome": "commented",
    "target": target,
    **({"contains": contains} if contains else {}),
    **({"excludes": excludes} if excludes else {}),
    **kw,
}
N = lambda contains=None, excludes=None, **kw: {
    "outcome": "created",
    "target": "new",
    **({"contains": contains} if contains else {}),
    **({"excludes": excludes} if excludes else {}),
    **kw,
}
L = {"outcome": "ignored_loop", "target": None}
Q = {"outcome": "quarantined", "target": None}

# --- replies that thread onto A
mail(
    "outlook_reply",
    h(DAVE, "RE: [{{A}}] Printer on floor 3 is jammed", "<AM0PR01MB1@eurprd01.outlook.com>", IRT_A),
    f"Still broken after the restart.\n\n________________________________\nFrom: DutyDesk <dutydesk@localhost>\nSent: Monday, November 23, 2026 9:00 AM\nTo: Dave <dave@example.com>\nSubject: [{{{{A}}}}] Printer on floor 3 is jammed\n\n{OLD}\n",
    C("A", "Still broken after the restart.", OLD),
)
mail(
    "outlook_reply_html_only",
    h(
        DAVE,
        "RE: [{{A}}] Printer on floor 3 is jammed",
        "<AM0PR01MB2@eurprd01.outlook.com>",
        IRT_A,
        "text/html; charset=utf-8",
    ),
    f'<html><body><div>It works <b>again</b>, thanks!</div><div id="appendonsend"></div><hr style="display:inline-block"><div id="divRplyFwdMsg"><b>From:</b> DutyDesk<br><b>Sent:</b> Monday<br></div><div>{OLD}</div></body></html>',
    C("A", "It works again, thanks!", OLD),
)
mail(
    "outlook_german_aw",
    h(DAVE, "AW: [{{A}}] Drucker", "<AM0PR01MB3@eurprd01.outlook.com>", IRT_A),
    f"Danke, Problem besteht weiterhin.\n\nVon: DutyDesk <dutydesk@localhost>\nGesendet: Montag, 23. November 2026 09:00\nAn: Dave\nBetreff: [{{{{A}}}}] Drucker\n\n{OLD}\n",
    C("A", "Danke, Problem besteht weiterhin.", OLD),
)
mail(
    "outlook_original_message",
    h(DAVE, "RE: [{{A}}] Printer", "<AM0PR01MB4@eurprd01.outlook.com>", IRT_A),
    f"Any news?\n\n-----Original Message-----\nFrom: DutyDesk\nSent: Monday\n\n{OLD}\n",
    C("A", "Any news?", OLD),
)
mail(
    "outlook_ursprungliche_nachricht",
    h(DAVE, "AW: [{{A}}] Drucker", "<AM0PR01MB5@eurprd01.outlook.com>", IRT_A),
    f"Gibt es Neuigkeiten?\n\n-----Ursprüngliche Nachricht-----\nVon: DutyDesk\nGesendet: Montag\n\n{OLD}\n",
    C("A", "Gibt es Neuigkeiten?", OLD),
)
mail(
    "gmail_reply",
    h(
        DAVE,
        "Re: [{{A}}] Printer on floor 3 is jammed",
        "<CAF=abc123@mail.gmail.com>",
        IRT_A,
        'multipart/alternative; boundary="b1"',
    ),
    alt(
        f"Tried again, same error E42.\n\nOn Mon, 23 Nov 2026 at 09:00, DutyDesk <dutydesk@localhost> wrote:\n> {OLD}\n",
        f'<div dir="ltr">Tried again, same error E42.</div><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">On Mon wrote:</div><blockquote>{OLD}</blockquote></div>',
    ),
    C("A", "Tried again, same error E42.", OLD),
)
mail(
    "gmail_reply_wrapped_wrote",
    h(DAVE, "Re: [{{A}}] Printer", "<CAF=abc124@mail.gmail.com>", IRT_A),
    f"The toner was empty.\n\nOn Mon, 23 Nov 2026 at 09:00, DutyDesk via Service Desk <\ndutydesk@localhost> wrote:\n\n> {OLD}\n",
    C("A", "The toner was empty.", OLD),
)
mail(
    "gmail_html_only_reply",
    h(
        DAVE,
        "Re: [{{A}}] Printer",
        "<CAF=abc125@mail.gmail.com>",
        IRT_A,
        "text/html; charset=UTF-8",
    ),
    f'<div dir="ltr">Photo of the display attached &amp; sent.</div><br><div class="gmail_quote">On Mon wrote:<blockquote class="gmail_quote">{OLD}</blockquote></div>',
    C("A", "Photo of the display attached & sent.", OLD),
)
mail(
    "thunderbird_reply",
    h(
        DAVE,
        "Re: [{{A}}] Printer",
        "<5f3e-thunderbird@example.com>",
        IRT_A,
        'multipart/alternative; boundary="b1"',
    ),
    alt(
        f"Replaced the cable, still jammed.\n\nOn 23.11.26 09:00, DutyDesk wrote:\n> {OLD}\n",
        f'<p>Replaced the cable, still jammed.</p><div class="moz-cite-prefix">On 23.11.26 09:00, DutyDesk wrote:<br></div><blockquote type="cite">{OLD}</blockquote>',
    ),
    C("A", "Replaced the cable, still jammed.", OLD),
)
mail(
    "thunderbird_german",
    h(DAVE, "Re: [{{A}}] Drucker", "<5f3f-thunderbird@example.com>", IRT_A),
    f"Kabel getauscht.\n\nAm 23.11.26 um 09:00 schrieb DutyDesk:\n> {OLD}\n",
    C("A", "Kabel getauscht.", OLD),
)
mail(
    "thunderbird_french",
    h(DAVE, "Re: [{{A}}] Imprimante", "<5f40-thunderbird@example.com>", IRT_A),
    f"Toujours en panne.\n\nLe 23/11/2026 à 09:00, DutyDesk a écrit :\n> {OLD}\n",
    C("A", "Toujours en panne.", OLD),
)
mail(
    "apple_mail_reply",
    h(DAVE, "Re: [{{A}}] Printer", "<A1B2C3D4-apple@example.com>", IRT_A),
    f"Sent from the printer room.\n\n> On 23. Nov 2026, at 09:00, DutyDesk <dutydesk@localhost> wrote:\n> \n> {OLD}\n",
    C("A", "Sent from the printer room.", OLD),
)
mail(
    "references_only_received",
    h(
        DAVE,
        "Re: Printer on floor 3 is jammed",
        "<refs-only-1@example.com>",
        [("References", "<seed-0001@acme.example>")],
    ),
    "Replying to my own first mail: it is also the scanner.\n",
    C("A", "also the scanner"),
)
mail(
    "references_only_outbox",
    h(
        DAVE,
        "Re: Printer",
        "<refs-only-2@example.com>",
        [("References", "<never-reached-us@example.com> <77aa88bb99.{{A}}@{{DOMAIN}}>")],
    ),
    "The first mail of this chain never reached you.\n",
    C("A", "never reached you"),
)
mail(
    "in_reply_to_thread_id",
    h(DAVE, "Re: Printer", "<irt-thread@example.com>", [("In-Reply-To", "<{{A}}@{{DOMAIN}}>")]),
    "Thread id only.\n",
    C("A", "Thread id only."),
)
mail(
    "in_reply_to_received",
    h(
        DAVE,
        "Re: Printer on floor 3",
        "<irt-received@example.com>",
        [("In-Reply-To", "<seed-0001@acme.example>")],
    ),
    "Follow-up to my own mail.\n",
    C("A", "Follow-up to my own mail."),
)
mail(
    "subject_tag_only",
    h(DAVE, "Re: [{{A}}] Printer", "<tag-only@example.com>"),
    "No headers, just the tag.\n",
    C("A", "just the tag"),
)
mail(
    "subject_tag_fwd",
    h(DAVE, "Fwd: [{{A}}] Printer", "<tag-fwd@example.com>"),
    "FYI, see below.\n\n---------- Forwarded message ---------\nFrom: Colleague <c@example.com>\nDate: Mon\n\nThe printer on floor 3 also fails for me.\n",
    C("A", "also fails for me"),
)
mail(
    "subject_tag_wg_aw",
    h(DAVE, "WG: AW: [{{A}}] Drucker", "<tag-wg@example.com>"),
    "Weitergeleitet an den Hersteller.\n",
    C("A", "Hersteller"),
)
mail(
    "subject_tag_sv_nordic",
    h(DAVE, "SV: [{{A}}] Skrivare", "<tag-sv@example.com>"),
    "Fortfarande trasig.\n",
    C("A", "Fortfarande"),
)
mail(
    "servicenow_stripped_refs",
    h(
        DAVE,
        "RE: [{{A}}] Printer on floor 3 is jammed",
        "<servicenow-123@service-now.com>",
        [("X-ServiceNow-Generated", "false")],
    ),
    "Ref:MSG0012345\nPlease see the vendor reply below.\n",
    C("A", "vendor reply"),
)
mail(
    "jira_service_management",
    h(DAVE, "Re: [{{A}}] Printer", "<jira-1@atlassian.example>", IRT_A),
    f"Done on our side.\n\n--- Reply above this line ---\n\n{OLD}\n",
    C("A", "Done on our side.", OLD),
)
mail(
    "zendesk_marker",
    h(DAVE, "Re: [{{A}}] Printer", "<zendesk-1@zendesk.example>", IRT_A),
    f"Confirmed working.\n##- Please type your reply above this line -##\n\n{OLD}\n",
    C("A", "Confirmed working.", OLD),
)
mail(
    "agent_reply_by_mail",
    h("Alice <alice@example.com>", "Re: [{{A}}] Printer", "<alice-1@example.com>", IRT_A),
    "I will come by at 14:00.\n",
    C("A", "come by at 14:00"),
)
mail(
    "interleaved_reply",
    h(DAVE, "Re: [{{A}}] Printer", "<interleaved@example.com>", IRT_A),
    "> Which model is it?\nHP LaserJet 4250.\n> Since when?\nSince Monday.\n",
    C("A", "HP LaserJet 4250"),
)
mail(
    "signature_trimmed",
    h(DAVE, "Re: [{{A}}] Printer", "<sig@example.com>", IRT_A),
    "Works now.\n\n-- \nDave Requester\nPhone SIGNATURE-LINE\n",
    C("A", "Works now.", "SIGNATURE-LINE"),
)
pdf = base64.b64encode(b"%PDF-1.4\n% fake\n").decode()
mail(
    "reply_with_attachment",
    h(DAVE, "Re: [{{A}}] Printer", "<att-1@example.com>", IRT_A, 'multipart/mixed; boundary="m1"'),
    f'--m1\nContent-Type: text/plain; charset=utf-8\n\nError log attached.\n--m1\nContent-Type: application/pdf\nContent-Disposition: attachment; filename="log.pdf"\nContent-Transfer-Encoding: base64\n\n{pdf}\n--m1--\n',
    C("A", "Error log attached.", attachments=["log.pdf"]),
)
mail(
    "reply_rfc2231_filename",
    h(DAVE, "Re: [{{A}}] Printer", "<att-2@example.com>", IRT_A, 'multipart/mixed; boundary="m1"'),
    f"--m1\nContent-Type: text/plain; charset=utf-8\n\nReport attached.\n--m1\nContent-Type: application/pdf\nContent-Disposition: attachment; filename*=utf-8''Pr%C3%BCfbericht%20Nr.%201.pdf\nContent-Transfer-Encoding: base64\n\n{pdf}\n--m1--\n",
    C("A", "Report attached.", attachments=["Prüfbericht Nr. 1.pdf"]),
)
png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20).decode()
mail(
    "reply_rfc2047_filename",
    h(DAVE, "Re: [{{A}}] Printer", "<att-3@example.com>", IRT_A, 'multipart/mixed; boundary="m1"'),
    f'--m1\nContent-Type: text/plain; charset=utf-8\n\nScreenshot.\n--m1\nContent-Type: image/png; name="=?utf-8?q?Bildschirm_=C3=BC.png?="\nContent-Disposition: attachment; filename="=?utf-8?q?Bildschirm_=C3=BC.png?="\nContent-Transfer-Encoding: base64\n\n{png}\n--m1--\n',
    C("A", "Screenshot.", attachments=["Bildschirm ü.png"]),
)
# --- cross-customer refusal
mail(
    "carol_uses_acme_tag",
    h("Carol <carol@example.com>", "Re: [{{A}}] Printer", "<carol-1@globex.example>"),
    "Our printer is broken too.\n",
    N("Our printer is broken too.", not_merged="A"),
)
mail(
    "carol_in_reply_to_acme",
    h("Carol <carol@example.com>", "Re: Printer", "<carol-2@globex.example>", IRT_A),
    "Replying to a forwarded notification.\n",
    N("forwarded notification", not_merged="A"),
)
mail(
    "erin_same_customer_no_share",
    h("Erin <erin@example.com>", "Re: [{{A}}] Printer", "<erin-1@example.com>"),
    "Same customer, but not shared.\n",
    N("not shared", not_merged="A"),
)
# --- reopen
mail(
    "reply_to_resolved",
    h(
        DAVE,
        "Re: [{{R}}] VPN drops",
        "<reopen-1@example.com>",
        [("In-Reply-To", "<aa11bb22cc.{{R}}@{{DOMAIN}}>")],
    ),
    "It is not fixed, the VPN dropped again.\n",
    {"outcome": "reopened", "target": "R", "contains": "dropped again"},
)
# --- new incidents
mail(
    "new_plain",
    h(DAVE, "Laptop does not boot", "<new-1@example.com>"),
    "Black screen after the update.\n",
    N("Black screen", short_description="Laptop does not boot"),
)
mail(
    "new_html_only_script",
    h(DAVE, "Website shows error", "<new-2@example.com>", ctype="text/html; charset=utf-8"),
    '<html><head><style>p{color:red}</style><script>alert("x")</script></head><body><p onclick="evil()">Error 500 on <a href="javascript:x">the portal</a></p><img src=x onerror=alert(1)></body></html>',
    N("Error 500 on the portal", "alert"),
)
mail(
    "new_iso2022jp_labelled",
    h(
        DAVE,
        "=?ISO-2022-JP?B?GyRCJUQlJSUkJUwbKEI=?=",
        "<jp-1@example.jp>",
        ctype="text/plain; charset=ISO-2022-JP",
    ),
    "プリンターが壊れました\n".encode("iso2022_jp"),
    N("プリンターが壊れました"),
)
mail(
    "new_iso2022jp_unlabelled",
    h(DAVE, "Printer (jp)", "<jp-2@example.jp>", ctype="text/plain"),
    "印刷できません\n".encode("iso2022_jp"),
    N("印刷できません"),
)
mail(
    "new_cp1252_labelled_utf8",
    h(DAVE, "Grüße", "<cp-1@example.com>", ctype="text/plain; charset=utf-8"),
    "Viele Grüße, der Drucker – kaputt\n".encode("cp1252"),
    N("Viele Grüße, der Drucker – kaputt"),
)
mail(
    "new_utf8_labelled_latin1",
    h(DAVE, "Umlaut", "<cp-2@example.com>", ctype="text/plain; charset=iso-8859-1"),
    "Größe der Datei: 3 MB\n".encode(),
    N("Größe der Datei"),
)
mail(
    "new_latin1_correct",
    h(DAVE, "Latin1", "<cp-3@example.com>", ctype="text/plain; charset=iso-8859-1"),
    "Café fermé\n".encode("latin-1"),
    N("Café fermé"),
)
mail(
    "new_rfc2047_multiword",
    h(
        DAVE,
        "=?utf-8?q?Drucker_im_?= =?utf-8?q?3=2E_Stock_kaputt_=E2=80=93_dringend?=",
        "<mw-1@example.com>",
    ),
    "Siehe Betreff.\n",
    N("Siehe Betreff.", short_description="Drucker im 3. Stock kaputt – dringend"),
)
mail(
    "new_rfc2047_base64_latin1",
    h(
        DAVE,
        "=?iso-8859-1?b?" + base64.b64encode("Störung Büro".encode("latin-1")).decode() + "?=",
        "<mw-2@example.com>",
    ),
    "Text.\n",
    N("Text.", short_description="Störung Büro"),
)
mail(
    "new_raw_utf8_header",
    h(DAVE, "Ärger mit Outlook", "<raw-1@example.com>"),
    "Raw 8-bit subject.\n",
    N("Raw 8-bit subject.", short_description="Ärger mit Outlook"),
)
mail(
    "new_quoted_printable",
    h(DAVE, "QP", "<qp-1@example.com>", [("Content-Transfer-Encoding", "quoted-printable")]),
    "Die Verbindung ist sehr langsam, seit heute Morgen um 8 Uhr, bitte pr=C3=BC=\nfen.\n",
    N("bitte prüfen."),
)
mail(
    "new_without_message_id",
    h(DAVE, "No Message-ID", None),
    "A mail without a Message-ID header.\n",
    N("without a Message-ID"),
)
mail(
    "new_forward_from_dave",
    h(DAVE, "Fwd: Disk almost full on fs01", "<fwd-1@example.com>"),
    "Please have a look.\n\n---------- Forwarded message ---------\nFrom: monitor@example.com\n\nDisk /data on fs01 is 97% full.\n",
    N("97% full", short_description="Disk almost full on fs01"),
)
mail(
    "new_inline_image",
    h(
        DAVE,
        "Screenshot of the error",
        "<inline-1@example.com>",
        ctype='multipart/related; boundary="r1"',
    ),
    f'--r1\nContent-Type: text/html; charset=utf-8\n\n<p>See <img src="cid:img1"> the error.</p>\n--r1\nContent-Type: image/png\nContent-ID: <img1>\nContent-Disposition: inline; filename="image001.png"\nContent-Transfer-Encoding: base64\n\n{png}\n--r1--\n',
    N("the error.", attachments=["image001.png"]),
)
mail(
    "new_from_unknown_sender",
    h("Stranger <stranger@nowhere.example>", "Help", "<unknown-1@nowhere.example>"),
    "Who am I?\n",
    {"outcome": "held", "target": None},
)
mail(
    "new_by_agent",
    h("Alice <alice@example.com>", "Switch in room 2 is down", "<alice-2@example.com>"),
    "Logged by mail.\n",
    N("Logged by mail."),
)
mail(
    "new_empty_subject",
    h(DAVE, "", "<nosubj@example.com>"),
    "No subject at all.\n",
    N("No subject at all.", short_description="(no subject)"),
)
mail(
    "new_folded_subject_no_injection",
    h(DAVE, "Hello\r\n Bcc: victim@example.com", "<fold@example.com>"),
    "Folded.\n",
    N("Folded.", short_description="Hello Bcc: victim@example.com"),
)
mail(
    "new_tag_of_unknown_incident",
    h(DAVE, "Re: [INC9999999] Old thing", "<tag-unknown@example.com>"),
    "Unknown number.\n",
    N("Unknown number."),
)
mail(
    "auto_submitted_no_is_a_person",
    h(DAVE, "Auto-Submitted no", "<as-no@example.com>", [("Auto-Submitted", "no")]),
    "I typed this.\n",
    N("I typed this."),
)
mail(
    "unknown_charset_label",
    h(DAVE, "Odd charset", "<cs-x@example.com>", ctype="text/plain; charset=x-foobar"),
    "plain ascii text\n",
    N("plain ascii text"),
)
mail(
    "broken_base64_body",
    h(DAVE, "Broken base64", "<b64@example.com>", [("Content-Transfer-Encoding", "base64")]),
    "SGVsbG8gd29ybGQ!!!*\n",
    {"outcome": "created", "target": "new"},
)
# --- loops
mail(
    "ooo_auto_replied",
    h(
        DAVE,
        "Out of office: [{{A}}] Printer",
        "<ooo-1@example.com>",
        [("Auto-Submitted", "auto-replied")] + IRT_A,
    ),
    "I am away until Monday.\n",
    L,
)
mail(
    "ooo_exchange",
    h(
        DAVE,
        "Automatic reply: [{{A}}] Printer",
        "<ooo-2@example.com>",
        [
            ("X-Auto-Response-Suppress", "All"),
            ("X-MS-Exchange-Inbox-Rules-Loop", "dave@example.com"),
        ],
    ),
    "Away.\n",
    L,
)
mail(
    "dsn_bounce",
    h(
        "Mail Delivery System <MAILER-DAEMON@mx.example.com>",
        "Undelivered Mail Returned to Sender",
        "<dsn-1@mx.example.com>",
        ctype='multipart/report; report-type=delivery-status; boundary="d1"',
    ),
    "--d1\nContent-Type: text/plain\n\nThis is the mail system.\n--d1\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.com\n\nFinal-Recipient: rfc822; nobody@example.com\nAction: failed\nStatus: 5.1.1\n--d1--\n",
    L,
)
mail(
    "bounce_plain_mailer_daemon",
    h("MAILER-DAEMON@mx.example.com", "failure notice", "<dsn-2@mx.example.com>"),
    "Sorry, I could not deliver.\n",
    L,
)
mail(
    "precedence_bulk",
    h(DAVE, "Newsletter", "<bulk-1@example.com>", [("Precedence", "bulk")]),
    "Monthly news.\n",
    L,
)
mail(
    "precedence_list",
    h(
        DAVE,
        "[list] discussion",
        "<list-1@example.com>",
        [("Precedence", "list"), ("List-Id", "<l.example.com>")],
    ),
    "List mail.\n",
    L,
)
mail(
    "monitoring_auto_generated",
    h(DAVE, "ALERT disk full", "<mon-1@example.com>", [("Auto-Submitted", "auto-generated")]),
    "Disk full.\n",
    L,
)
mail(
    "from_our_own_address",
    h(DD, "[{{A}}] Printer", "<own-1@{{DOMAIN}}>"),
    "Our own notification came back.\n",
    L,
)
mail(
    "x_loop_ours",
    h(DAVE, "Loop", "<loop-1@example.com>", [("X-Loop", "dutydesk@localhost")]),
    "Loop.\n",
    L,
)
# --- bounces of our notifications: marked bounced and noted on R, nothing opened ({{NOTE}}
# is the Message-ID of R's latest e-mail notification)
BOUNCED = {**L, "bounced": "R"}
DAEMON = "Mail Delivery System <MAILER-DAEMON@mx.example.com>"
DSN = 'multipart/report; report-type=delivery-status; boundary="r1"'
STATUS = (
    "--r1\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.com\n\n"
    "Final-Recipient: rfc822; dave@example.com\nAction: failed\nStatus: 5.1.1\n"
    "Diagnostic-Code: smtp; 550 5.1.1 user unknown\n"
)
mail(
    "dsn_bounce_of_notification",
    h(DAEMON, "Undelivered Mail Returned to Sender", "<dsn-3@mx.example.com>", ctype=DSN),
    "--r1\nContent-Type: text/plain\n\nThis is the mail system. Your message bounced.\n"
    + STATUS
    + "--r1\nContent-Type: message/rfc822\n\nFrom: DutyDesk <dutydesk@localhost>\n"
    "To: dave@example.com\nSubject: [{{R}}] Resolved\nMessage-ID: {{NOTE}}\n\n"
    "Your incident was resolved.\n--r1--\n",
    BOUNCED,
)
mail(
    "dsn_headers_only_bounce",
    h(DAEMON, "Delivery Status Notification (Failure)", "<dsn-4@mx.example.com>", ctype=DSN),
    "--r1\nContent-Type: text/plain\n\nDelivery has failed.\n"
    + STATUS
    + "--r1\nContent-Type: text/rfc822-headers\n\nFrom: dutydesk@localhost\n"
    "Message-ID: {{NOTE}}\nSubject: [{{R}}] Resolved\n--r1--\n",
    BOUNCED,
)
mail(
    "mailer_daemon_quotes_headers",
    h("MAILER-DAEMON@old-mx.example.com", "failure notice", "<dsn-5@old-mx.example.com>"),
    "Hi. This is the qmail-send program.\nI'm afraid I wasn't able to deliver your message.\n\n"
    "--- Below this line is a copy of the message.\n\nMessage-ID: {{NOTE}}\n"
    "Subject: [{{R}}] Resolved\n\nYour incident was resolved.\n",
    BOUNCED,
)
mail(
    "read_receipt_is_not_a_bounce",
    h(
        DAVE,
        "Read: [{{R}}] Resolved",
        "<mdn-1@example.com>",
        [("In-Reply-To", "{{NOTE}}")],
        ctype='multipart/report; report-type=disposition-notification; boundary="r2"',
    ),
    "--r2\nContent-Type: text/plain\n\nYour message was read.\n--r2\n"
    "Content-Type: message/disposition-notification\n\nFinal-Recipient: rfc822; dave@example.com\n"
    "Disposition: manual-action/MDN-sent-manually; displayed\n--r2--\n",
    L,
)
# --- hostile / broken
mail("empty_message", None, None, Q, raw=b"")
mail("binary_garbage", None, None, Q, raw=bytes(range(256)) * 4)
nest = "".join(f'--n{i}\nContent-Type: multipart/mixed; boundary="n{i + 1}"\n\n' for i in range(40))
mail(
    "deep_nesting",
    h(DAVE, "Deep", "<deep@example.com>", ctype='multipart/mixed; boundary="n0"'),
    nest + "--n40\nContent-Type: text/plain\n\nbottom\n",
    Q,
)
parts = "".join(f"--p\nContent-Type: text/plain\n\npart {i}\n" for i in range(300)) + "--p--\n"
mail(
    "too_many_parts",
    h(DAVE, "Parts", "<parts@example.com>", ctype='multipart/mixed; boundary="p"'),
    parts,
    Q,
)
mail(
    "no_from_header",
    [("To", DD), ("Subject", "Anonymous"), ("Message-ID", "<nofrom@example.com>")],
    "Who sent this?\n",
    Q,
)
(out / "manifest.json").write_text(
    json.dumps(cases, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
)
print(len(cases))
