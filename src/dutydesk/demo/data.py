"""The demo installation as data: customers, groups, people and the catalog."""

from __future__ import annotations

from dataclasses import dataclass

# Passwords are for the demo only and printed by `dutydesk demo`; one per role.
PASSWORDS = {
    "admin": "demo-admin-pass",
    "incident_manager": "demo-manager-pass",
    "agent": "demo-agent-pass",
    "requester": "demo-requester-pass",
}
STAFF_DOMAIN = "servicedesk.example.com"


@dataclass(frozen=True)
class CustomerSpec:
    name: str
    domain: str
    description: str
    share_incidents: bool = False


CUSTOMERS = (
    CustomerSpec("Acme Corp", "acme.example.com", "Manufacturing; 2,400 staff on three sites."),
    CustomerSpec(
        "Globex",
        "globex.example.com",
        "Energy trading; requesters see every Globex incident.",
        share_incidents=True,
    ),
    CustomerSpec("Initech", "initech.example.com", "Software house; one office, 300 staff."),
)


@dataclass(frozen=True)
class GroupSpec:
    key: str
    name: str
    tier: str
    description: str
    email: str


GROUPS = (
    GroupSpec(
        "desk",
        "Service Desk",
        "l1",
        "First line: logging, triage, quick fixes.",
        f"desk@{STAFF_DOMAIN}",
    ),
    GroupSpec(
        "apps",
        "Application Support",
        "l2",
        "Second line for business applications.",
        f"apps@{STAFF_DOMAIN}",
    ),
    GroupSpec(
        "infra",
        "Infrastructure",
        "l3",
        "Servers, storage, network and telephony.",
        f"infra@{STAFF_DOMAIN}",
    ),
    GroupSpec(
        "vendor",
        "Network Vendor",
        "supplier",
        "NetCo Ltd., the supplier of the WAN, firewalls and VPN gateways.",
        "support@netco.example.com",
    ),
)


@dataclass(frozen=True)
class PersonSpec:
    username: str
    full_name: str
    role: str
    group: str | None = None  # GroupSpec.key; the first member listed is the group's manager
    serves: tuple[str, ...] = ()  # customer names (staff)
    customer: str | None = None  # requesters

    @property
    def first_name(self) -> str:
        return self.full_name.split()[0]


_ALL = tuple(c.name for c in CUSTOMERS)

PEOPLE = (
    PersonSpec("admin", "Ada Admin", "admin"),
    PersonSpec("irene", "Irene Morgan", "incident_manager", serves=_ALL),
    PersonSpec("sofia", "Sofia Lind", "agent", "desk", _ALL),
    PersonSpec("tom", "Tom Baker", "agent", "desk", _ALL),
    PersonSpec("lena", "Lena Ortiz", "agent", "desk", _ALL),
    PersonSpec("marco", "Marco Rossi", "agent", "desk", _ALL),
    PersonSpec("arjun", "Arjun Mehta", "agent", "apps", _ALL),
    PersonSpec("priya", "Priya Nair", "agent", "apps", ("Acme Corp", "Globex")),
    PersonSpec("kenji", "Kenji Sato", "agent", "apps", ("Globex", "Initech")),
    PersonSpec("ingrid", "Ingrid Berg", "agent", "infra", _ALL),
    PersonSpec("omar", "Omar Haddad", "agent", "infra", _ALL),
    PersonSpec("felix", "Felix Wagner", "agent", "infra", _ALL),
    PersonSpec("victor", "Victor Hale", "agent", "vendor"),
    PersonSpec("nadia", "Nadia Petrova", "agent", "vendor"),
    PersonSpec("dave", "Dave Miller", "requester", customer="Acme Corp"),
    PersonSpec("erin", "Erin Cole", "requester", customer="Acme Corp"),
    PersonSpec("frank", "Frank Ng", "requester", customer="Acme Corp"),
    PersonSpec("grace", "Grace Kim", "requester", customer="Acme Corp"),
    PersonSpec("carol", "Carol Diaz", "requester", customer="Globex"),
    PersonSpec("hank", "Hank Scorpio", "requester", customer="Globex"),
    PersonSpec("ian", "Ian Wright", "requester", customer="Globex"),
    PersonSpec("peter", "Peter Gibbons", "requester", customer="Initech"),
    PersonSpec("milton", "Milton Waddams", "requester", customer="Initech"),
    PersonSpec("samir", "Samir Nagheenanajar", "requester", customer="Initech"),
)


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    description: str
    owner: str  # GroupSpec.key
    customer: str | None = None  # None: offered to every customer


SERVICES = (
    ServiceSpec("E-mail", "Exchange mailboxes, mail gateway and Outlook.", "infra"),
    ServiceSpec("VPN", "Remote access for staff working from home or on the road.", "infra"),
    ServiceSpec("ERP", "SAP S/4HANA for finance, purchasing and logistics.", "apps", "Acme Corp"),
    ServiceSpec("Payroll", "Monthly payroll runs and payslips.", "apps", "Globex"),
    ServiceSpec("Website", "The public website and its content management.", "apps", "Initech"),
    ServiceSpec("File shares", "Department and personal network drives.", "infra"),
    ServiceSpec("Telephony", "Desk phones, softphones and conference rooms.", "infra"),
    ServiceSpec("CRM", "Customer relationship management for sales and support.", "apps"),
    ServiceSpec("HR portal", "Leave requests, expenses and personal data.", "apps"),
    ServiceSpec("Service desk tooling", "DutyDesk itself and the remote support tools.", "desk"),
    ServiceSpec("Workplace", "Laptops, desktops, printers and the standard software.", "desk"),
    ServiceSpec("Network", "Office LAN, Wi-Fi, firewalls and internet access.", "infra"),
)


@dataclass(frozen=True)
class CISpec:
    name: str
    ci_class: str
    service: str
    owner: str
    criticality: str


CIS = (
    CISpec("exch-mbx01", "server", "E-mail", "infra", "high"),
    CISpec("exch-mbx02", "server", "E-mail", "infra", "high"),
    CISpec("mail-gw01", "network_device", "E-mail", "infra", "high"),
    CISpec("outlook-client", "application", "E-mail", "desk", "medium"),
    CISpec("vpn-gw01", "network_device", "VPN", "vendor", "critical"),
    CISpec("vpn-gw02", "network_device", "VPN", "vendor", "high"),
    CISpec("radius01", "server", "VPN", "infra", "high"),
    CISpec("erp-app01", "application", "ERP", "apps", "critical"),
    CISpec("erp-app02", "server", "ERP", "apps", "high"),
    CISpec("erp-db01", "database", "ERP", "infra", "critical"),
    CISpec("payroll-app", "application", "Payroll", "apps", "high"),
    CISpec("payroll-db", "database", "Payroll", "infra", "high"),
    CISpec("web-lb01", "network_device", "Website", "infra", "high"),
    CISpec("web01", "server", "Website", "apps", "medium"),
    CISpec("web02", "server", "Website", "apps", "medium"),
    CISpec("cms-db", "database", "Website", "infra", "medium"),
    CISpec("fs01", "server", "File shares", "infra", "high"),
    CISpec("nas01", "storage", "File shares", "infra", "high"),
    CISpec("pbx01", "server", "Telephony", "infra", "high"),
    CISpec("sbc01", "network_device", "Telephony", "vendor", "high"),
    CISpec("crm-app", "application", "CRM", "apps", "high"),
    CISpec("crm-db", "database", "CRM", "infra", "high"),
    CISpec("hr-portal", "application", "HR portal", "apps", "medium"),
    CISpec("hr-db", "database", "HR portal", "infra", "medium"),
    CISpec("dutydesk-app", "application", "Service desk tooling", "desk", "medium"),
    CISpec("print-srv01", "server", "Workplace", "desk", "low"),
    CISpec("mdm01", "server", "Workplace", "desk", "medium"),
    CISpec("core-sw01", "network_device", "Network", "infra", "critical"),
    CISpec("core-sw02", "network_device", "Network", "infra", "critical"),
    CISpec("wlan-ctrl01", "network_device", "Network", "infra", "high"),
    CISpec("fw01", "network_device", "Network", "vendor", "critical"),
)

CATEGORIES: dict[str, tuple[str, ...]] = {
    "Hardware": ("Laptop", "Desktop", "Printer", "Monitor", "Mobile phone"),
    "Software": ("E-mail client", "Office suite", "Business application", "Operating system"),
    "Network": ("VPN", "Wi-Fi", "LAN", "Internet access"),
    "Access": ("Password reset", "Account locked", "Permissions"),
    "Telephony": ("Desk phone", "Conference room"),
    "Infrastructure": ("Server", "Storage", "Database"),
}
