# ruff: noqa: E501 — minutes, draft paragraphs and comments read better unbroken.
"""Fixed content of the demo consultations and reviews (portal/demo/engagement.py loads it).

The Stakeholder Advisory Group and its monthly consultations follow paragraph 37 of the
UN-Habitat Executive Board report HSP/EB.2022/8 (the five engagement areas), the draft review
follows paragraph 39 (the World Urban Forum background paper sent to partners), and the
ad hoc working group on the stakeholder engagement policy of paragraph 40 is the observer's
seat. People are invented; organisations are the demo partners (portal/demo/data.py).

Dates: held meetings are given as months before the demo's fixed "today" (seed.TODAY);
``"upcoming-1"`` / ``"upcoming-2"`` mean the first and second upcoming meeting, whose dates are
computed from the real date at seed time (see engagement.py).
"""

from __future__ import annotations

from datetime import date

SAG_NAME = "Stakeholder Advisory Group"
SAG_DESCRIPTION = (
    "UN-Habitat consults its stakeholders every month through the Stakeholder Advisory Group, "
    "seeking advice and support on five engagement areas: resource mobilisation; monitoring "
    "and reporting of global commitments; knowledge products such as the World Cities Report; "
    "programme design and implementation; and advocacy through events such as the World Urban "
    "Forum (HSP/EB.2022/8, paragraph 37).\n\n"
    "Members speak for the constituencies of the General Assembly of Partners. Minutes are "
    "published here once the group has approved them."
)
WUF_GROUP_NAME = "World Urban Forum preparatory working group"
WUF_GROUP_DESCRIPTION = (
    "A small working group of partners preparing the partner dialogues and networking events "
    "of the next World Urban Forum with the secretariat. Its papers are working drafts and "
    "are shared with members only."
)

# Organisations are found by (name, country) among the real actors, or, for constituencies the
# real actors do not cover, as the first demo partner of that stakeholder group in one of the
# listed countries (ordered by country, then name — the demo set is deterministic).
# email, name, locale, organisation, constituency spoken for, role in the advisory group
MEMBERS: list[dict] = [
    dict(
        email="member1@example.org",
        name="Amina Wanjiru",
        locale="en",
        org=("University of Nairobi", "KE"),
        constituency="research-academia",
        role="chair",
    ),
    dict(
        email="member2@example.org",
        name="Élodie Sawadogo",
        locale="fr",
        org=("Université Joseph Ki-Zerbo de Ouagadougou", "BF"),
        constituency="research-academia",
        role="member",
    ),
    dict(
        email="member3@example.org",
        name="Rania Haddad",
        locale="ar",
        org=("children-youth", ["LB", "JO", "EG", "MA", "TN"]),
        constituency="children-youth",
        role="member",
    ),
    dict(
        email="member4@example.org",
        name="Li Wei (李伟)",
        locale="zh",
        org=("Songyang County People's Government", "CN"),
        constituency="local-authorities",
        role="member",
    ),
    dict(
        email="member5@example.org",
        name="Carmen Ortega",
        locale="es",
        org=("Ayuntamiento de Madrid", "ES"),
        constituency="local-authorities",
        role="member",
    ),
    dict(
        email="member6@example.org",
        name="Tomasz Nowak",
        locale="en",
        org=("Miasto Katowice", "PL"),
        constituency="local-authorities",
        role="member",
    ),
    dict(
        email="member7@example.org",
        name="Grace Achieng",
        locale="en",
        org=("women", ["KE", "UG", "TZ", "GH", "NG", "ZA"]),
        constituency="women",
        role="member",
    ),
    dict(
        email="member8@example.org",
        name="Kim Ji-won",
        locale="en",
        org=("International Urban Training Center, Gangwon Province", "KR"),
        constituency="professionals",
        role="member",
    ),
    dict(
        email="member9@example.org",
        name="Daniel Mensah",
        locale="en",
        org=("grassroots", ["GH", "NG", "KE", "ZA", "UG"]),
        constituency="grassroots",
        role="member",
    ),
    dict(
        email="member10@example.org",
        name="Sofia Lindqvist",
        locale="en",
        org=("business-industries", ["SE", "DK", "NO", "FI", "DE", "GB"]),
        constituency="business-industries",
        role="member",
    ),
    dict(
        email="member11@example.org",
        name="Oluwaseun Adeyemi",
        locale="en",
        org=("persons-with-disabilities", ["NG", "GH", "KE", "ZA", "IN"]),
        constituency="persons-with-disabilities",
        role="member",
    ),
    dict(
        email="member12@example.org",
        name="Hans Keller",
        locale="en",
        org=("Government of Switzerland", "CH"),
        constituency=None,
        role="observer",
    ),
]
# Demo users of seed.py who also sit in the advisory group.
EXISTING_MEMBERS: list[dict] = [
    dict(
        email="staff@example.org", org=("UN-Habitat", "KE"), constituency=None, role="secretariat"
    ),
    dict(
        email="partner@example.org",
        org=("Catalytic Action", "LB"),
        constituency="civil-society",
        role="member",
    ),
    dict(
        email="reviewer@example.org",
        org=("UCL Development Planning Unit", "GB"),
        constituency="research-academia",
        role="member",
    ),
]
WUF_MEMBERS: list[tuple[str, str]] = [
    ("member6@example.org", "chair"),
    ("staff@example.org", "secretariat"),
    ("member5@example.org", "member"),
    ("member8@example.org", "member"),
    ("member3@example.org", "member"),
]

MEETING_TIMEZONE = "Africa/Nairobi"
MEETING_LINK = "https://meet.example.org/unhabitat-sag"
NAIROBI_VENUE = "UN-Habitat, United Nations Office at Nairobi (Gigiri), Conference Room 3"

# --- the advisory group's monthly meetings -----------------------------------------------------
# months_before: months before seed.TODAY; outcomes: kind, title, area, owner e-mail, due,
# final status, progress notes (author, body, new status or None, date or ("days-ago", n)).

HELD_MEETINGS: list[dict] = [
    dict(
        months_before=6,
        title="1st meeting — terms of reference and work plan",
        areas=["programme-design", "resource-mobilisation"],
        mode="online",
        description="First meeting of the renewed Advisory Group: terms of reference, working methods and the 2025–2026 work plan under the five engagement areas.",
        agenda=[
            ("Opening and introductions", "Amina Wanjiru (Chair)", 15, ""),
            (
                "Draft terms of reference",
                "Secretariat",
                45,
                "Mandate, membership by constituency, monthly meetings, publication of minutes.",
            ),
            (
                "Work plan 2025–2026 under the five engagement areas",
                "Secretariat",
                45,
                "Resource mobilisation; monitoring and reporting; knowledge products; programme design; advocacy.",
            ),
            ("Any other business", None, 15, ""),
        ],
        minutes="""# Stakeholder Advisory Group — 1st meeting

## 1. Opening and introductions

The Chair, Amina Wanjiru (University of Nairobi), opened the meeting and welcomed members from eleven organisations speaking for eight constituencies of the General Assembly of Partners. The secretariat recalled paragraph 37 of the Executive Board report HSP/EB.2022/8, which describes the monthly consultations with stakeholders.

## 2. Draft terms of reference

Members discussed the draft terms of reference and asked that:

- meetings be held monthly and online, with one hybrid session a year in Nairobi;
- minutes be approved by the group and published on the partnership portal within four weeks;
- every recommendation and action item have an owner and a due date, tracked from meeting to meeting.

## 3. Work plan 2025–2026

The secretariat presented the five engagement areas. Members asked that the World Cities Report and the next World Urban Forum be standing items, and that the group review the Executive Board report on the implementation of the Assembly's resolutions before it is finalised.

## Decisions

- The terms of reference will be adopted at the 2nd meeting with the changes above.
- The secretariat will circulate a stakeholder-mapping template before the end of May.
""",
        outcomes=[
            dict(
                kind="recommendation",
                title="Adopt the terms of reference with monthly meetings and published minutes",
                area="programme-design",
                owner="staff@example.org",
                due=date(2025, 6, 12),
                status="done",
                notes=[
                    (
                        "staff@example.org",
                        "Adopted at the 2nd meeting; published on the group page.",
                        "done",
                        date(2025, 6, 12),
                    )
                ],
            ),
            dict(
                kind="action",
                title="Circulate a stakeholder-mapping template to all members",
                area="programme-design",
                owner="staff@example.org",
                due=date(2025, 5, 30),
                status="done",
                notes=[
                    (
                        "staff@example.org",
                        "Template sent; nine members returned it.",
                        "done",
                        date(2025, 5, 28),
                    )
                ],
            ),
        ],
    ),
    dict(
        months_before=5,
        title="2nd meeting — resource mobilisation with partners",
        areas=["resource-mobilisation"],
        mode="online",
        description="How partners can support the resource mobilisation strategy: softly earmarked funding, foundations and the private sector.",
        agenda=[
            ("Adoption of the terms of reference", "Amina Wanjiru (Chair)", 10, ""),
            (
                "Resource mobilisation strategy: progress and gaps",
                "Secretariat",
                40,
                "Core and softly earmarked contributions since 2021 (HSP/EB.2022/8, paragraph 6).",
            ),
            ("Foundations and the private sector as co-financiers", "Sofia Lindqvist", 40, ""),
            ("Any other business", None, 10, ""),
        ],
        minutes="""# Stakeholder Advisory Group — 2nd meeting

## 1. Terms of reference

The terms of reference were adopted with the changes agreed at the 1st meeting.

## 2. Resource mobilisation strategy

The secretariat reported that more member states now contribute to core funding and that softly earmarked funding has grown since Sweden, Germany and Switzerland moved to that model. Members noted that most partners cannot contribute money but can mobilise in-kind support, data and local co-financing, and asked that this be recognised.

## 3. Foundations and the private sector

Sofia Lindqvist presented examples of co-financing by foundations and companies for affordable housing and public space. Members recommended a single window through which partners can pledge softly earmarked support, with clear safeguards against conflicts of interest.

## Decisions

- **Recommendation:** create a partner pledging window for softly earmarked contributions.
- **Action:** compile examples of foundation co-financing for the strategy (Chair).
""",
        outcomes=[
            dict(
                kind="recommendation",
                title="Create a partner pledging window for softly earmarked contributions",
                area="resource-mobilisation",
                owner="member10@example.org",
                due=date(2025, 9, 30),
                status="in-progress",
                notes=[
                    (
                        "member10@example.org",
                        "Draft safeguards against conflicts of interest shared with the secretariat.",
                        "in-progress",
                        date(2025, 8, 20),
                    ),
                    (
                        "staff@example.org",
                        "Legal review of the pledging window is still pending.",
                        None,
                        date(2025, 10, 9),
                    ),
                ],
            ),
            dict(
                kind="action",
                title="Compile examples of foundation co-financing for the resource mobilisation strategy",
                area="resource-mobilisation",
                owner="member1@example.org",
                due=date(2025, 7, 31),
                status="done",
                notes=[
                    (
                        "member1@example.org",
                        "Twelve examples compiled and shared in the group's folder.",
                        "done",
                        date(2025, 7, 24),
                    )
                ],
            ),
        ],
    ),
    dict(
        months_before=4,
        title="3e réunion — suivi et rapport sur les engagements mondiaux",
        areas=["monitoring-reporting"],
        mode="online",
        description="Monitoring and reporting of global commitments: the New Urban Agenda, SDG 11 and voluntary local reviews. Meeting held in French with interpretation.",
        agenda=[
            ("Rapport quadriennal sur le Nouveau Programme pour les villes", "Secrétariat", 40, ""),
            (
                "Examens locaux volontaires : l'expérience des villes d'Afrique de l'Ouest",
                "Élodie Sawadogo",
                40,
                "",
            ),
            ("Publication des données de suivi sur le portail", "Secrétariat", 30, ""),
        ],
        minutes="""# Groupe consultatif des parties prenantes — 3e réunion

## 1. Rapport quadriennal sur le Nouveau Programme pour les villes

Le secrétariat a présenté le calendrier du prochain rapport quadriennal. Les membres ont souligné que les données locales restent difficiles à agréger au niveau national, en particulier pour l'indicateur 11.1.1 (logement convenable et quartiers précaires).

## 2. Examens locaux volontaires

Élodie Sawadogo (Université Joseph Ki-Zerbo) a présenté l'expérience de trois villes d'Afrique de l'Ouest. Les membres ont recommandé un modèle commun d'examen local volontaire comportant un petit nombre d'indicateurs locaux comparables.

## 3. Données ouvertes

Les membres ont demandé que les données de suivi soient publiées sur le portail des partenariats dans des formats ouverts (CSV, IATI), afin que les partenaires puissent les réutiliser.

## Décisions

- **Action :** proposer trois indicateurs locaux pour le modèle d'examen local volontaire (Élodie Sawadogo).
- **Recommandation :** publier les données de suivi sur le portail dans des formats ouverts.
""",
        outcomes=[
            dict(
                kind="action",
                title="Propose three local indicators for the voluntary local review template",
                area="monitoring-reporting",
                owner="member2@example.org",
                due=date(2025, 9, 1),
                status="done",
                notes=[
                    (
                        "member2@example.org",
                        "Trois indicateurs proposés : accès à l'eau potable, temps de trajet domicile-travail, part des ménages en situation d'occupation précaire.",
                        "done",
                        date(2025, 8, 28),
                    )
                ],
            ),
            dict(
                kind="recommendation",
                title="Publish monitoring data on the partnership portal in open formats",
                area="monitoring-reporting",
                owner="staff@example.org",
                due=date(2025, 12, 15),
                status="in-progress",
                notes=[
                    (
                        "staff@example.org",
                        "Agreements are now downloadable as CSV; IATI export is being tested.",
                        "in-progress",
                        date(2025, 10, 20),
                    )
                ],
            ),
        ],
    ),
    dict(
        months_before=3,
        title="4th meeting — World Cities Report 2026 and other knowledge products",
        areas=["knowledge-products"],
        mode="online",
        description="Partners' contributions to the World Cities Report 2026: city case studies, data and peer review.",
        agenda=[
            (
                "World Cities Report 2026: outline and timetable",
                "Secretariat (Knowledge and Innovation)",
                40,
                "",
            ),
            ("Case studies from Chinese cities on urban-rural linkages", "Li Wei (李伟)", 30, ""),
            ("Disability inclusion in knowledge products", "Oluwaseun Adeyemi", 30, ""),
            ("Any other business", None, 10, ""),
        ],
        minutes="""# Stakeholder Advisory Group — 4th meeting

## 1. World Cities Report 2026

The secretariat presented the outline of the World Cities Report 2026 and invited members to submit city case studies by the end of September. Members asked that case studies from intermediary cities and rural towns be included, not only from large metropolitan areas.

## 2. Case studies on urban-rural linkages

Li Wei presented the experience of Songyang County, co-host with UN-Habitat of the second international forum on urban-rural linkages. His statement, as delivered:

> 松阳县坚持“活态保护”的乡村振兴路径，通过城乡要素双向流动，带动了100多个传统村落的保护与发展。我们愿意向《2026 年世界城市报告》提供案例研究，并与其他成员分享经验。

(Summary: Songyang County has revitalised more than 100 traditional villages through two-way flows between town and countryside and offers a case study for the report.)

## 3. Disability inclusion

Oluwaseun Adeyemi asked that the report's outline be reviewed for disability inclusion and that it be published in accessible formats.

## Decisions

- **Action:** submit city case studies for the World Cities Report 2026 (Li Wei and other members).
- **Action:** review the report's outline for disability inclusion (Oluwaseun Adeyemi).
""",
        outcomes=[
            dict(
                kind="action",
                title="Submit city case studies for the World Cities Report 2026",
                area="knowledge-products",
                owner="member4@example.org",
                due=date(2025, 9, 30),
                status="done",
                notes=[
                    (
                        "member4@example.org",
                        "已提交松阳县案例研究（中英文）。Case study submitted in Chinese and English.",
                        "done",
                        date(2025, 9, 26),
                    )
                ],
            ),
            dict(
                kind="action",
                title="Review the World Cities Report outline for disability inclusion",
                area="knowledge-products",
                owner="member11@example.org",
                due=date(2025, 10, 15),
                status="open",
                notes=[],
            ),
        ],
    ),
    dict(
        months_before=2,
        title="5th meeting — programme design: safer cities and urban-rural linkages",
        areas=["programme-design"],
        mode="hybrid",
        capacity=12,
        description="Stakeholder participation in programme design: the safer cities peer review and the urban-rural linkages programme.",
        agenda=[
            (
                "Safer cities: peer review of the system-wide guidelines",
                "Secretariat (Safer Cities)",
                40,
                "Pilots in Mexico and South Africa (HSP/EB.2022/8, paragraph 13).",
            ),
            ("Urban-rural linkages: data workshops and next steps", "Secretariat", 30, ""),
            ("Community organisations in programme design", "Daniel Mensah", 30, ""),
        ],
        minutes="""# Stakeholder Advisory Group — 5th meeting

Held in Nairobi and online.

## 1. Safer cities peer review

The secretariat reported on the peer review of the United Nations system-wide guidelines on safer cities and human settlements, piloted in Mexico and South Africa. Daniel Mensah asked that community organisations in the pilot cities take part in the peer review, not only municipal officials.

## 2. Urban-rural linkages

Members welcomed the data workshops held in Cameroon, Guinea, Nigeria and the United Republic of Tanzania. Tomasz Nowak offered to share the toolkit with European partners.

## Decisions

- **Recommendation:** involve community organisations in the safer cities peer review.
- **Action:** share the urban-rural linkages data toolkit with European partners (Tomasz Nowak).
""",
        outcomes=[
            dict(
                kind="recommendation",
                title="Involve community organisations in the safer cities peer review",
                area="programme-design",
                owner="member9@example.org",
                due=date(2025, 11, 30),
                status="open",
                notes=[
                    (
                        "member9@example.org",
                        "List of community organisations in the pilot cities shared with the secretariat.",
                        None,
                        date(2025, 10, 30),
                    )
                ],
            ),
            dict(
                kind="action",
                title="Share the urban-rural linkages data toolkit with European partners",
                area="programme-design",
                owner="member6@example.org",
                due=date(2025, 10, 31),
                status="dropped",
                notes=[
                    (
                        "member6@example.org",
                        "Superseded: the toolkit will be published as an online course on the learning platform.",
                        "dropped",
                        date(2025, 10, 9),
                    )
                ],
            ),
        ],
    ),
    dict(
        months_before=1,
        title="6th meeting — World Urban Forum and Urban October",
        areas=["advocacy"],
        mode="online",
        description="Advocacy through events: partner comments on the World Urban Forum background paper and Urban October.",
        agenda=[
            (
                "Comments on the World Urban Forum background paper",
                "Secretariat",
                45,
                "What partners said and how the secretariat answered.",
            ),
            ("Youth-led networking events at the Forum", "Rania Haddad", 25, ""),
            ("Urban October: events by constituency", "Grace Achieng", 20, ""),
        ],
        minutes="""# Stakeholder Advisory Group — 6th meeting

## 1. World Urban Forum background paper

The secretariat reported that every comment received on the background paper has been answered and that version 2 has been published, with each comment carried to its paragraph. Members welcomed the "what we heard" page and asked that the same practice be followed for the Executive Board report.

## 2. Youth-led networking events

Rania Haddad proposed a youth-led networking event on public space in post-conflict cities.

> نقترح أن يقود الشباب فعالية تواصل حول الأماكن العامة في المدن الخارجة من النزاعات.

## 3. Urban October

Grace Achieng asked that Urban October events be reported by constituency and region, so that the contribution of women's and grassroots organisations is visible.

## Decisions

- **Action:** prepare a youth-led networking event proposal for the World Urban Forum (Rania Haddad), to be presented at the 7th meeting.
- **Recommendation:** report Urban October events by constituency and region.
""",
        outcomes=[
            dict(
                kind="action",
                title="Collect partner comments on the World Urban Forum background paper and publish the answers",
                area="advocacy",
                owner="staff@example.org",
                due=date(2025, 10, 31),
                status="done",
                notes=[
                    (
                        "staff@example.org",
                        "All comments answered; version 2 published with the comments carried over.",
                        "done",
                        date(2025, 10, 6),
                    )
                ],
            ),
            dict(
                kind="action",
                title="Prepare a youth-led networking event proposal for the World Urban Forum",
                area="advocacy",
                owner="member3@example.org",
                due="upcoming-1",
                status="in-progress",
                notes=[
                    (
                        "member3@example.org",
                        "First draft of the concept note shared with the working group.",
                        "in-progress",
                        ("days-ago", 6),
                    )
                ],
            ),
            dict(
                kind="recommendation",
                title="Report Urban October events by constituency and region",
                area="advocacy",
                owner="member7@example.org",
                due="upcoming-2",
                status="open",
                notes=[],
            ),
        ],
    ),
]

UPCOMING_MEETINGS: list[dict] = [
    dict(
        title="7th meeting — 2026 work programme and resource mobilisation",
        areas=["resource-mobilisation", "programme-design"],
        mode="online",
        description="The secretariat's 2026 work programme, progress on the partner pledging window, and the review of the Executive Board report HSP/EB.2022/8.",
        agenda=[
            ("Review of open recommendations and action items", "Secretariat", 20, ""),
            ("2026 work programme", "Secretariat", 40, ""),
            ("Partner pledging window: progress", "Sofia Lindqvist", 30, ""),
            (
                "Comments on the Executive Board report HSP/EB.2022/8",
                "Amina Wanjiru (Chair)",
                30,
                "The review round is open to members on the portal.",
            ),
        ],
        # A member's proposal still waiting for the secretariat's decision.
        proposal=(
            "member3@example.org",
            "Youth-led networking event at the World Urban Forum: concept note",
            "Rania Haddad",
            15,
        ),
    ),
    dict(
        title="8th meeting — annual session in Nairobi",
        areas=["advocacy", "knowledge-products", "monitoring-reporting"],
        mode="hybrid",
        capacity=6,
        description="The group's annual hybrid session at UN-Habitat headquarters. In-person seats are limited; members who accept in person beyond the capacity join the waiting list.",
        agenda=[
            ("Annual review of the group's recommendations", "Amina Wanjiru (Chair)", 45, ""),
            ("World Cities Report 2026: launch plans", "Secretariat", 30, ""),
            (
                "Stakeholder engagement policy: briefing by the ad hoc working group",
                "Hans Keller",
                30,
                "HSP/EB.2022/8, paragraph 40.",
            ),
        ],
        proposal=(
            "member7@example.org",
            "Urban October 2026: reporting by constituency",
            "Grace Achieng",
            20,
        ),
        proposal_accepted=True,
    ),
]

# RSVPs to the upcoming meetings (through the RSVP service, so the waiting list is real):
# e-mail → (answer, in person?). Everyone else stays "pending".
UPCOMING_RSVPS: list[dict[str, tuple[str, bool | None]]] = [
    {
        "member1@example.org": ("accepted", None),
        "member2@example.org": ("accepted", None),
        "member4@example.org": ("declined", None),
        "member6@example.org": ("tentative", None),
        "member10@example.org": ("accepted", None),
        "reviewer@example.org": ("accepted", None),
        "member12@example.org": ("accepted", None),
    },
    {
        "member1@example.org": ("accepted", True),
        "member7@example.org": ("accepted", True),
        "member9@example.org": ("accepted", True),
        "member11@example.org": ("accepted", True),
        "member2@example.org": ("accepted", True),
        "member3@example.org": ("accepted", True),
        "member5@example.org": ("accepted", True),  # seventh in person: waiting list
        "member8@example.org": ("accepted", True),  # eighth: waiting list
        "member4@example.org": ("accepted", False),
        "member12@example.org": ("tentative", False),
        "member10@example.org": ("declined", None),
    },
]

WUF_GROUP_MEETING = dict(
    months_before=2,
    day_offset=14,  # two weeks after the advisory group's meeting that month
    title="Preparatory meeting — programme of the partner dialogues",
    areas=["advocacy"],
    mode="online",
    description="Working session on the five partner dialogues of the Forum and the travel grants.",
    agenda=[
        ("Programme of the five partner dialogues", "Tomasz Nowak (Chair)", 45, ""),
        ("Travel grants for grassroots organisations and local authorities", "Secretariat", 30, ""),
    ],
    minutes="""# World Urban Forum preparatory working group

## 1. Programme of the partner dialogues

The group reviewed the five dialogues of the background paper. Carmen Ortega proposed that the dialogue on safety in public space build on the Madrid expert group meeting of October 2020. Kim Ji-won offered online training sessions for first-time session organisers.

## 2. Travel grants

The secretariat will propose criteria for the travel grants, giving priority to grassroots organisations and local authorities from least developed countries.

## Decisions

- **Action:** draft the criteria for travel grants (secretariat).
""",
    outcomes=[
        dict(
            kind="action",
            title="Draft the criteria for World Urban Forum travel grants",
            area="advocacy",
            owner="staff@example.org",
            due=date(2025, 11, 14),
            status="in-progress",
            notes=[
                (
                    "staff@example.org",
                    "Draft criteria circulated to the working group.",
                    "in-progress",
                    date(2025, 10, 24),
                )
            ],
        ),
    ],
)

# --- the Executive Board report under review (open round) --------------------------------------

SEED_DOC_TITLE = "UN-Habitat Executive Board report HSP/EB.2022/8 (draft)"
SEED_DOC_DESCRIPTION = (
    "Draft report of the Executive Director on the implementation of the resolutions and "
    "decisions adopted by the UN-Habitat Assembly at its first session (Chinese text). "
    "Paragraphs 36–40 describe the stakeholder consultations, the partnership portal and the "
    "review of the World Urban Forum background paper."
)
SEED_ROUND_TITLE = "Stakeholder Advisory Group review of HSP/EB.2022/8"
SEED_ROUND_INSTRUCTIONS = (
    "Please comment on the paragraphs that concern stakeholders, in particular section 六 "
    "(paragraphs 36–40). Say whether your comment is general, technical or editorial, and "
    "propose new wording where you can. You may write in any of the six official languages."
)

# author, paragraph number (None = the whole document), type, body, proposed change, quoted
# passage, anonymous. A reply names the index of the comment it answers as "reply_to".
SEED_COMMENTS: list[dict] = [
    dict(
        author="member1@example.org",
        para=37,
        type="general",
        quote="利益攸关方咨询小组",
        body="The report should list the five engagement areas separately, so that member states can see how each was addressed in the monthly consultations.",
        change="……以征求针对以下五个方面的建议和支持：(a) 资源调动；(b) 监测和报告各项全球承诺；(c) 知识产品；(d) 方案设计和实施；(e) 宣传。",
    ),
    dict(
        author="member2@example.org",
        para=37,
        type="technical",
        body="Le paragraphe devrait préciser le nombre de réunions tenues entre juillet et décembre 2021 et le nombre moyen de participants, afin de rendre compte de la régularité des consultations.",
    ),
    dict(
        author="member4@example.org",
        para=37,
        type="editorial",
        quote="每月与利益攸关方举行协商会议",
        body="建议将“协商会议”改为“磋商会议”，与人居大会其他文件的用语保持一致。",
        change="每月与利益攸关方举行磋商会议",
    ),
    dict(
        author="partner@example.org",
        para=38,
        type="general",
        quote="在线门户网站",
        body="Catalytic Action welcomes the portal. Please add that partners can keep their own profiles up to date and that agreement data are published to the IATI standard.",
    ),
    dict(
        author="reviewer@example.org",
        para=38,
        type="technical",
        body="Transparency needs a measurable indicator, for example the share of agreements published with their value and parties within 30 days of signature.",
        change="Add at the end: “人居署将报告在签署后 30 天内公布的协定所占比例。”",
    ),
    dict(
        author="member3@example.org",
        para=38,
        type="general",
        body="نقترح الإشارة إلى أن البوابة متاحة باللغات الرسمية الست للأمم المتحدة، حتى تتمكن المنظمات الشعبية في المنطقة العربية من استخدامها.",
    ),
    dict(
        author="member6@example.org",
        para=39,
        type="general",
        quote="8 000 多个合作伙伴",
        body="As the host city of the eleventh session, Katowice suggests saying how many comments were received and how they were reflected in the final background paper.",
    ),
    dict(
        author="member8@example.org",
        para=39,
        type="technical",
        body="Please say in which languages the draft background paper was circulated. If only in English, partners in other regions were at a disadvantage.",
    ),
    dict(
        author="member5@example.org",
        para=39,
        type="technical",
        body="Sería útil indicar el plazo concedido a los asociados para presentar comentarios; dos semanas no bastan a las redes de gobiernos locales, que deben consultar a sus miembros.",
    ),
    dict(
        author="member12@example.org",
        para=40,
        type="editorial",
        quote="瑞士常驻人居署副代表",
        body="Please give the full name of the ad hoc working group and the expected date of the revised draft policy.",
    ),
    dict(
        author="member1@example.org",
        para=40,
        type="general",
        body="The ad hoc working group should consult stakeholders before the policy is finalised. The Advisory Group offers to host a dedicated session.",
    ),
    dict(
        author="member9@example.org",
        para=36,
        type="general",
        quote="520 场活动",
        body="Many Urban October events were organised by grassroots groups with no budget at all. The report could recognise their contribution explicitly.",
    ),
    dict(
        author="member7@example.org",
        para=36,
        type="technical",
        body="Please break the 520 events down by region and say how many focused on women and girls.",
    ),
    dict(
        author="member10@example.org",
        para=6,
        type="technical",
        quote="非硬性专用资金",
        body="The private sector and foundations are absent from the resource mobilisation paragraph. We suggest a sentence on co-financing partnerships.",
        change="Add: “人居署还与基金会和私营部门探讨了共同供资的伙伴关系。”",
    ),
    dict(
        author="member11@example.org",
        para=27,
        type="general",
        body="Organisations of persons with disabilities should be named alongside grassroots women's organisations, and the report should say whether the virtual event was accessible (captions, sign language).",
    ),
    dict(
        author="member2@example.org",
        para=23,
        type="general",
        body="Le centre d'excellence de Ouagadougou a accueilli sa première cohorte d'étudiants en 2021 ; nous proposons de l'indiquer.",
        change="……建立一个由世界银行资助的住房问题英才中心，该中心已于 2021 年招收首批学生。",
    ),
    dict(
        author="member4@example.org",
        para=34,
        type="editorial",
        body="“城乡连续体”一词在第 32 段和第 34 段中的用法不一致，建议统一术语。",
    ),
    dict(
        author="member8@example.org",
        para=24,
        type="technical",
        quote="250 多人",
        body="Add the participants' evaluation of the workshops (average satisfaction 4.5 out of 5), so the report shows results and not only activities.",
    ),
    dict(
        author="reviewer@example.org",
        para=17,
        type="technical",
        quote="181 个国家",
        body="Please cite the source of the figure of 181 countries (the learning platform's analytics) and the number of course completions.",
    ),
    dict(
        author="member9@example.org",
        para=13,
        type="general",
        body="Community organisations in the pilot cities of Mexico and South Africa should take part in the peer review, not only municipal officials.",
    ),
    dict(
        author="member3@example.org",
        para=12,
        type="editorial",
        body="يرجى ذكر عدد المدن التي شاركت في تحدي الأيام الأربعين للمدن الأكثر أمانا.",
    ),
    dict(
        author="member6@example.org",
        para=32,
        type="general",
        body="The urban-rural linkages data workshops would be useful to European partners too; please consider an online edition.",
    ),
    dict(
        author="member7@example.org",
        para=28,
        type="general",
        body="We welcome the call for new members of the advisory group on gender issues. The call should reach grassroots women's organisations through the partner networks.",
    ),
    dict(
        author="member5@example.org",
        para=10,
        type="technical",
        body="El prototipo de la herramienta de seguimiento de la seguridad urbana debería probarse también en ciudades de América Latina y de Europa.",
    ),
    dict(
        author="member10@example.org",
        para=38,
        type="technical",
        body="Consider an open API for the portal so that partners' own systems can reuse the agreement data.",
    ),
    dict(
        author="partner@example.org",
        para=None,
        type="general",
        body="A clear report overall. A short table summarising, for each resolution, what was done and what is pending would help readers.",
    ),
    dict(
        author="member12@example.org",
        para=None,
        type="editorial",
        body="The heading of section 六 refers to decision 1/3 while section 三 concerns resolution 1/3. The references are correct but easily confused; a footnote would help.",
    ),
    dict(
        author="member1@example.org",
        para=39,
        type="technical",
        body="Please state how the comments were answered — a comment matrix published with a response to every comment is the practice this group recommended.",
    ),
    dict(
        author="member11@example.org",
        para=39,
        type="general",
        anonymous=True,
        body="Organisations of persons with disabilities found the draft hard to review without an accessible version. Please commit to screen-reader friendly formats for future reviews.",
    ),
    dict(
        author="member2@example.org",
        reply_to=10,
        type="general",
        body="D'accord. Le groupe pourrait proposer deux dates en janvier pour cette séance avec le groupe de travail spécial.",
    ),
]
# index in SEED_COMMENTS → (decision, response): the secretariat has answered about half.
SEED_DISPOSITIONS: dict[int, tuple[str, str]] = {
    0: ("accepted", "The five areas will be listed as (a)–(e) in the final text."),
    2: ("accepted", "Terminology aligned with the Assembly's documents."),
    3: (
        "accepted-in-part",
        "Profiles maintained by partners will be mentioned; IATI publication is planned for 2022 and will be reported next year.",
    ),
    4: ("noted", "A timeliness indicator will be considered for the portal's annual report."),
    6: ("accepted", "The number of comments received (1,240) will be added."),
    7: (
        "accepted",
        "The draft was circulated in English, French and Spanish; this will be stated.",
    ),
    9: ("accepted", "The full name of the working group has been added."),
    11: (
        "accepted-in-part",
        "Grassroots contributions are recognised; a breakdown by organiser is not available for 2021.",
    ),
    13: (
        "rejected",
        "Paragraph 6 reports on contributions received; partnerships under discussion are covered in the resource mobilisation report.",
    ),
    16: ("accepted", "Terminology harmonised in paragraphs 32 and 34."),
    19: ("noted", "Forwarded to the safer cities team for the 2022 peer review."),
    21: ("noted", "An online edition will be considered in 2022."),
    25: (
        "rejected",
        "The report follows the format set by the Executive Board; a summary table is published separately on the portal.",
    ),
    27: ("accepted", "A sentence on the published comment matrix has been added."),
}

# --- the World Urban Forum background paper (closed round, version 2 published) ----------------

WUF_DOC_TITLE = "World Urban Forum background paper"
WUF_DOC_DESCRIPTION = (
    "Background paper of the next session of the World Urban Forum, shared with partners for "
    "review and comment (cf. HSP/EB.2022/8, paragraph 39)."
)
WUF_ROUND_TITLE = "Partner review of the World Urban Forum background paper"
WUF_ROUND_INSTRUCTIONS = (
    "Comment on the numbered paragraphs. Every comment will receive a response from the "
    "secretariat, and the comments will be carried to the next version of the paper."
)

WUF_V1 = """# World Urban Forum background paper

Draft for review by partners.

## I. Introduction

1. The World Urban Forum is the foremost global conference on sustainable urbanization. Convened by UN-Habitat since 2002, it brings together national, regional and local governments, civil society, the private sector, academia, professionals and grassroots organizations to examine how cities can be made more inclusive, safe, resilient and sustainable.

2. This background paper sets out the theme of the forthcoming session, the questions its dialogues will address and the ways in which partners can take part. It draws on the outcomes of the eleventh session, held in Katowice, Poland, from 26 to 30 June 2022.

## II. The theme: housing the world

3. Close to three billion people lack adequate housing, and a very large number live in slums.

4. The Forum will treat housing not as a sector but as a system: land, finance, planning, infrastructure and services, and the people who build and maintain homes, many of them in the informal economy.

5. Three perspectives will run through every dialogue: gender equality, the participation of young people, and the rights of persons with disabilities and older persons.

## III. Dialogues

6. Dialogue 1 will examine affordable housing finance, including municipal and community-led finance mechanisms and the role of public development banks.

7. Dialogue 2 will address land and tenure security, drawing on participatory slum upgrading programmes in Africa, Asia and Latin America.

8. Dialogue 3 will discuss climate resilience in housing: retrofitting the existing stock, nature-based solutions and lower embodied carbon in construction.

9. Dialogue 4 will focus on safety in public space and neighbourhoods, building on the United Nations system-wide guidelines on safer cities and human settlements.

10. Dialogue 5 will look at data and monitoring: how cities and countries report on housing targets and the New Urban Agenda, and how local data can inform national reporting.

## IV. Participation of partners

11. Partners are invited to propose networking events, side events and exhibitions through the online portal. Priority will be given to proposals co-organized by partners from different constituencies and regions.

12. UN-Habitat will support the participation of grassroots organizations and local authorities from least developed countries through a limited number of travel grants.

13. All sessions will take place in person at the venue; there will be no remote participation.

## V. Expected outcomes

14. The Forum is expected to produce a declared set of voluntary commitments by partners and a summary of the dialogues that will inform the next quadrennial report on the New Urban Agenda.
"""

WUF_V2 = """# World Urban Forum background paper

Version 2, revised after the partner review.

## I. Introduction

1. The World Urban Forum is the foremost global conference on sustainable urbanization. Convened by UN-Habitat since 2002, it brings together national, regional and local governments, civil society, the private sector, academia, professionals and grassroots organizations to examine how cities can be made more inclusive, safe, resilient and sustainable.

2. This background paper sets out the theme of the forthcoming session, the questions its dialogues will address and the ways in which partners can take part. It draws on the outcomes of the eleventh session, held in Katowice, Poland, from 26 to 30 June 2022.

## II. The theme: housing the world

3. More than 2.8 billion people experience some form of housing inadequacy, and about 1.1 billion live in slums or informal settlements.

4. The Forum will treat housing not as a sector but as a system: land, finance, planning, infrastructure and services, and the people who build and maintain homes, many of them in the informal economy, including children and displaced communities as co-designers of their neighbourhoods.

5. Four perspectives will run through every dialogue: gender equality, the participation of young people, the rights of persons with disabilities and older persons, and the rights of indigenous peoples.

## III. Dialogues

6. Dialogue 1 will examine affordable housing finance, including municipal and community-led finance mechanisms, guarantee schemes for housing cooperatives and the role of public development banks.

7. Dialogue 2 will address land and tenure security, drawing on participatory slum upgrading programmes in Africa, Asia and Latin America.

8. Dialogue 3 will discuss climate resilience in housing: heat stress and cooling, retrofitting the existing stock, nature-based solutions and lower embodied carbon in construction.

9. Dialogue 4 will focus on safety in public space and neighbourhoods, building on the United Nations system-wide guidelines on safer cities and human settlements.

10. Dialogue 5 will look at data and monitoring: how cities and countries report on housing targets and the New Urban Agenda, including through voluntary local reviews, and how local data can inform national reporting.

## IV. Participation of partners

11. Partners are invited to propose networking events, side events and exhibitions through the online portal. Priority will be given to proposals co-organized by partners from different constituencies and regions.

12. UN-Habitat will support the participation of grassroots organizations and local authorities from least developed countries through a limited number of travel grants.

13. Plenary and dialogue sessions will be streamed with interpretation into the six official languages, captions and international sign language, so that partners who cannot travel can follow and take part.

## V. Expected outcomes

14. The Forum is expected to produce a set of declared actions by partners, tracked on the partnership portal, and a summary of the dialogues that will inform the next quadrennial report on the New Urban Agenda.
"""

WUF_COMMENTS: list[dict] = [
    dict(
        author="member1@example.org",
        para=3,
        type="technical",
        body="The figures are vague. Please use UN-Habitat's own estimates.",
        change="More than 2.8 billion people experience some form of housing inadequacy, and about 1.1 billion live in slums or informal settlements.",
    ),
    dict(
        author="member9@example.org",
        para=5,
        type="general",
        body="Add indigenous peoples and migrants to the cross-cutting perspectives.",
    ),
    dict(
        author="member2@example.org",
        para=6,
        type="technical",
        body="Le dialogue 1 devrait inclure les mécanismes de garantie pour les coopératives d'habitat, très présentes en Afrique de l'Ouest.",
    ),
    dict(
        author="member6@example.org",
        para=2,
        type="editorial",
        body="Mention the Katowice Declared Actions as the main outcome of the eleventh session.",
    ),
    dict(
        author="member4@example.org",
        para=10,
        type="technical",
        body="建议在对话 5 中加入地方自愿审查（VLR）的内容，并介绍中国城市的经验。",
    ),
    dict(
        author="member3@example.org",
        para=12,
        type="general",
        body="نطلب تخصيص جزء من منح السفر لمنظمات المجتمع المدني في البلدان المتأثرة بالنزاعات.",
    ),
    dict(
        author="member10@example.org",
        para=11,
        type="general",
        body="Private-sector partners should be able to co-organise networking events without a public or civil-society partner.",
    ),
    dict(
        author="member7@example.org",
        para=13,
        type="general",
        body="Excluding remote participation shuts out many grassroots women's organisations. Streamed sessions need captions and sign language, not only interpretation.",
    ),
    dict(
        author="reviewer@example.org",
        para=8,
        type="technical",
        body="Dialogue 3 should cover heat stress and cooling: informal settlements are the most exposed.",
    ),
    dict(
        author="partner@example.org",
        para=4,
        type="general",
        body="Mention children and displaced communities as co-designers of housing and public space (see the DeCID handbook).",
    ),
    dict(
        author="member8@example.org",
        para=14,
        type="editorial",
        body="“A declared set of voluntary commitments” is unclear.",
        change="a set of declared actions by partners",
    ),
    dict(
        author="member12@example.org",
        para=None,
        type="general",
        body="The paper should say how the Forum's outcomes feed into the stakeholder engagement policy being prepared by the ad hoc working group.",
    ),
]
WUF_DISPOSITIONS: dict[int, tuple[str, str]] = {
    0: ("accepted", "Replaced with the proposed wording."),
    1: (
        "accepted-in-part",
        "Indigenous peoples added as a fourth perspective; migrants are covered under dialogue 2 (tenure security).",
    ),
    2: ("accepted", "Guarantee schemes for housing cooperatives added to dialogue 1."),
    3: ("noted", "The declared actions are the subject of paragraph 14."),
    4: (
        "accepted-in-part",
        "Voluntary local reviews added to dialogue 5; city experiences will be presented in the dialogue itself.",
    ),
    5: ("noted", "Travel grant criteria are being drafted by the preparatory working group."),
    6: (
        "rejected",
        "Co-organisation across constituencies is a principle of the Forum; private-sector partners may co-organise with any other constituency.",
    ),
    7: (
        "accepted",
        "Paragraph 13 rewritten: streamed sessions with interpretation, captions and sign language.",
    ),
    8: ("accepted", "Heat stress and cooling added to dialogue 3."),
    9: (
        "accepted-in-part",
        "Children and displaced communities added to paragraph 4; the DeCID handbook will be cited in the session notes.",
    ),
    10: ("accepted", "Wording changed to “a set of declared actions by partners”."),
    11: (
        "noted",
        "The link with the stakeholder engagement policy will be explained in the concept note of the closing plenary.",
    ),
}
