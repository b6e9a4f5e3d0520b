// UPnP IGD: the SSDP M-SEARCH, SSDP answers, device descriptions and SOAP,
// over sample text written in the shape miniupnpd produces.
#include <gtest/gtest.h>

#include "src/nat/upnp.h"

namespace vpncheck::nat {
namespace {

constexpr std::string_view kSsdpAnswer =
    "HTTP/1.1 200 OK\r\n"
    "CACHE-CONTROL: max-age=120\r\n"
    "ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n"
    "USN: uuid:7b4c2e0a-1f2d-4c33-9a1e-0242ac110002::urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n"
    "EXT:\r\n"
    "SERVER: Debian/12 UPnP/1.1 MiniUPnPd/2.3.1\r\n"
    "LOCATION: http://192.168.1.1:5000/rootDesc.xml\r\n"
    "OPT: \"http://schemas.upnp.org/upnp/1/0/\"; ns=01\r\n"
    "01-NLS: 1700000000\r\n"
    "BOOTID.UPNP.ORG: 1700000000\r\n"
    "CONFIGID.UPNP.ORG: 1337\r\n"
    "\r\n";

// Trimmed miniupnpd rootDesc.xml: the WAN connection service sits two devices deep.
constexpr std::string_view kRootDesc = R"(<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0" configId="1337">
<specVersion><major>1</major><minor>1</minor></specVersion>
<device>
<deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:1</deviceType>
<friendlyName>Debian router</friendlyName>
<manufacturer>MiniUPnP</manufacturer>
<serviceList>
<service><serviceType>urn:schemas-upnp-org:service:Layer3Forwarding:1</serviceType>
<serviceId>urn:upnp-org:serviceId:L3Forwarding1</serviceId>
<SCPDURL>/L3F.xml</SCPDURL><controlURL>/ctl/L3F</controlURL><eventSubURL>/evt/L3F</eventSubURL></service>
</serviceList>
<deviceList>
<device>
<deviceType>urn:schemas-upnp-org:device:WANDevice:1</deviceType>
<serviceList>
<service><serviceType>urn:schemas-upnp-org:service:WANCommonInterfaceConfig:1</serviceType>
<serviceId>urn:upnp-org:serviceId:WANCommonIFC1</serviceId>
<SCPDURL>/WANCfg.xml</SCPDURL><controlURL>/ctl/CmnIfCfg</controlURL><eventSubURL>/evt/CmnIfCfg</eventSubURL></service>
</serviceList>
<deviceList>
<device>
<deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:1</deviceType>
<serviceList>
<service>
  <serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</serviceType>
  <serviceId>urn:upnp-org:serviceId:WANIPConn1</serviceId>
  <SCPDURL>/WANIPCn.xml</SCPDURL>
  <controlURL>/ctl/IPConn</controlURL>
  <eventSubURL>/evt/IPConn</eventSubURL>
</service>
</serviceList>
</device>
</deviceList>
</device>
</deviceList>
<presentationURL>http://192.168.1.1/</presentationURL>
</device>
</root>
)";

constexpr std::string_view kExternalIpAnswer =
    R"(<?xml version="1.0"?>)"
    "\r\n"
    R"(<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">)"
    R"(<s:Body><u:GetExternalIPAddressResponse xmlns:u="urn:schemas-upnp-org:service:WANIPConnection:1">)"
    "<NewExternalIPAddress>100.72.3.4</NewExternalIPAddress>"
    "</u:GetExternalIPAddressResponse></s:Body></s:Envelope>\r\n";

constexpr std::string_view kFault =
    R"(<?xml version="1.0"?>)"
    "\r\n"
    R"(<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">)"
    "<s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail>"
    R"(<UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>714</errorCode>)"
    "<errorDescription>NoSuchEntryInArray</errorDescription></UPnPError>"
    "</detail></s:Fault></s:Body></s:Envelope>\r\n";

TEST(SsdpCodec, MSearchText) {
  EXPECT_EQ(ssdp_msearch_request(),
            "M-SEARCH * HTTP/1.1\r\n"
            "HOST: 239.255.255.250:1900\r\n"
            "MAN: \"ssdp:discover\"\r\n"
            "MX: 1\r\n"
            "ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n"
            "\r\n");
  EXPECT_EQ(kSsdpPort, 1900);
  EXPECT_EQ(kSsdpMulticastAddress, "239.255.255.250");
}

TEST(SsdpCodec, ParsesMiniupnpdAnswer) {
  auto r = parse_ssdp_response(kSsdpAnswer);
  ASSERT_TRUE(r) << to_string(r.error());
  EXPECT_EQ(r->location, "http://192.168.1.1:5000/rootDesc.xml");
  EXPECT_EQ(r->st, kIgdDeviceType);
  EXPECT_EQ(r->server, "Debian/12 UPnP/1.1 MiniUPnPd/2.3.1");
  EXPECT_NE(r->usn.find("uuid:7b4c2e0a"), std::string::npos);
}

TEST(SsdpCodec, HeaderNamesAreCaseInsensitiveAndLfIsAccepted) {
  auto r = parse_ssdp_response("HTTP/1.1 200 OK\nLocation:http://10.0.0.1/desc.xml  \nst: x\nServer: y\n\n");
  ASSERT_TRUE(r) << to_string(r.error());
  EXPECT_EQ(r->location, "http://10.0.0.1/desc.xml");
  EXPECT_EQ(r->st, "x");
  EXPECT_EQ(r->server, "y");
}

TEST(SsdpCodec, RejectsBadAnswers) {
  EXPECT_EQ(parse_ssdp_response("").error(), ParseError::truncated);
  EXPECT_EQ(parse_ssdp_response("HTTP/1.1 404 Not Found\r\nLOCATION: http://a/\r\n\r\n").error(),
            ParseError::http_status);
  EXPECT_EQ(parse_ssdp_response("HTTP/1.1 2000 OK\r\nLOCATION: http://a/\r\n\r\n").error(), ParseError::http_status);
  EXPECT_EQ(parse_ssdp_response("NOTIFY * HTTP/1.1\r\nLOCATION: http://a/\r\n\r\n").error(), ParseError::malformed);
  EXPECT_EQ(parse_ssdp_response("M-SEARCH * HTTP/1.1\r\nHOST: x\r\n\r\n").error(), ParseError::malformed);
  EXPECT_EQ(parse_ssdp_response("HTTP/1.1 200 OK\r\nST: x\r\n\r\n").error(), ParseError::not_found);
  EXPECT_EQ(parse_ssdp_response("HTTP/1.1 200 OK\r\nLOCATION: ftp://a/\r\n\r\n").error(), ParseError::malformed);
  EXPECT_EQ(parse_ssdp_response("HTTP/1.1 200 OK\r\nLOCATION: http://a/\x01\r\n\r\n").error(),
            ParseError::malformed);
  EXPECT_EQ(parse_ssdp_response("HTTP/1.1 200 OK\r\nno colon here\r\n\r\n").error(), ParseError::malformed);
  EXPECT_EQ(parse_ssdp_response(std::string(kMaxSsdpResponseSize + 1, 'a')).error(), ParseError::too_long);
  // the search request itself is not an answer
  EXPECT_FALSE(parse_ssdp_response(ssdp_msearch_request()));
}

TEST(HttpUrlText, ParsesAndResolves) {
  EXPECT_EQ(parse_http_url("http://192.168.1.1:5000/rootDesc.xml"),
            (HttpUrl{"192.168.1.1", 5000, "/rootDesc.xml"}));
  EXPECT_EQ(parse_http_url("HTTP://router"), (HttpUrl{"router", 80, "/"}));
  EXPECT_EQ(parse_http_url("http://[fe80::1]:49152/x?y=1"), (HttpUrl{"fe80::1", 49152, "/x?y=1"}));
  for (std::string_view bad : {"", "https://a/", "http://", "http://:80/", "http://a:0/", "http://a:65536/",
                               "http://a:8x/", "http://u@a/", "http://[fe80::1/", "http://a b/"})
    EXPECT_FALSE(parse_http_url(bad)) << bad;

  EXPECT_EQ(resolve_url("http://192.168.1.1:5000/rootDesc.xml", "/ctl/IPConn"), "http://192.168.1.1:5000/ctl/IPConn");
  EXPECT_EQ(resolve_url("http://192.168.1.1:5000/igd/desc.xml", "ctl/IPConn"),
            "http://192.168.1.1:5000/igd/ctl/IPConn");
  EXPECT_EQ(resolve_url("http://192.168.1.1:5000/desc.xml", "http://192.168.1.1:6000/c"), "http://192.168.1.1:6000/c");
  EXPECT_FALSE(resolve_url("http://192.168.1.1/", "ftp://x/"));
  EXPECT_FALSE(resolve_url("garbage", "/x"));
  // the result must itself be a URL parse_http_url accepts (found by fuzz_port_mapping)
  EXPECT_FALSE(resolve_url("http://192.168.1.1/", "a b"));
  EXPECT_FALSE(resolve_url("http://192.168.1.1/", "//evil/x"));
}

TEST(IgdDescription, FindsTheWanConnectionControlUrl) {
  auto r = parse_igd_description(kRootDesc, "http://192.168.1.1:5000/rootDesc.xml");
  ASSERT_TRUE(r) << to_string(r.error());
  ASSERT_EQ(r->size(), 1U);
  EXPECT_EQ(r->front(), (IgdService{"urn:schemas-upnp-org:service:WANIPConnection:1",
                                    "http://192.168.1.1:5000/ctl/IPConn"}));
}

TEST(IgdDescription, PrefersWanIpConnection2AndHonoursUrlBase) {
  const std::string xml =
      "<root><URLBase>http://10.0.0.1:49000/</URLBase><device><serviceList>"
      "<service><serviceType>urn:schemas-upnp-org:service:WANPPPConnection:1</serviceType>"
      "<controlURL>ppp</controlURL></service>"
      "<service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</serviceType>"
      "<controlURL>/ip1</controlURL></service>"
      "<service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:2</serviceType>"
      "<controlURL>/ip2?a=1&amp;b=2</controlURL></service>"
      "</serviceList></device></root>";
  auto r = parse_igd_description(xml, "http://192.168.1.1/desc.xml");
  ASSERT_TRUE(r) << to_string(r.error());
  ASSERT_EQ(r->size(), 3U);
  EXPECT_EQ((*r)[0].control_url, "http://10.0.0.1:49000/ip2?a=1&b=2");
  EXPECT_EQ((*r)[1].control_url, "http://10.0.0.1:49000/ip1");
  EXPECT_EQ((*r)[2].control_url, "http://10.0.0.1:49000/ppp");
}

TEST(IgdDescription, NamespacePrefixesAndSelfClosingTags) {
  const std::string xml =
      "<d:root xmlns:d=\"urn:schemas-upnp-org:device-1-0\"><d:service><d:serviceType>"
      "urn:schemas-upnp-org:service:WANIPConnection:1</d:serviceType><d:controlURL/></d:service>"
      "<d:service><d:serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</d:serviceType>"
      "<d:controlURL>/c</d:controlURL></d:service></d:root>";
  auto r = parse_igd_description(xml, "http://192.168.1.1:80/d.xml");
  ASSERT_TRUE(r) << to_string(r.error());
  ASSERT_EQ(r->size(), 1U);
  EXPECT_EQ(r->front().control_url, "http://192.168.1.1:80/c");
}

TEST(IgdDescription, RejectsDescriptionsWithoutAWanConnection) {
  EXPECT_EQ(parse_igd_description("", "http://a/").error(), ParseError::not_found);
  EXPECT_EQ(parse_igd_description("<root><service><serviceType>urn:x</serviceType><controlURL>/c</controlURL>"
                                  "</service></root>",
                                  "http://a/")
                .error(),
            ParseError::not_found);
  // unterminated
  EXPECT_FALSE(parse_igd_description("<service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:1"
                                     "</serviceType><controlURL>/c</controlURL>",
                                     "http://a/"));
  EXPECT_EQ(parse_igd_description(kRootDesc, "not a url").error(), ParseError::malformed);
  EXPECT_EQ(parse_igd_description(std::string(kMaxXmlSize + 1, '<'), "http://a/").error(), ParseError::too_long);
}

TEST(SoapCodec, GetExternalIpAddressRequest) {
  auto q = soap_get_external_ip_address("urn:schemas-upnp-org:service:WANIPConnection:1");
  EXPECT_EQ(q.soap_action, "\"urn:schemas-upnp-org:service:WANIPConnection:1#GetExternalIPAddress\"");
  EXPECT_EQ(q.body,
            "<?xml version=\"1.0\"?>\r\n"
            "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" "
            "s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\">"
            "<s:Body><u:GetExternalIPAddress xmlns:u=\"urn:schemas-upnp-org:service:WANIPConnection:1\">"
            "</u:GetExternalIPAddress></s:Body></s:Envelope>\r\n");
  const std::string http = build_soap_http_request({"192.168.1.1", 5000, "/ctl/IPConn"}, q);
  EXPECT_EQ(http.substr(0, http.find("\r\n\r\n") + 4),
            "POST /ctl/IPConn HTTP/1.1\r\n"
            "Host: 192.168.1.1:5000\r\n"
            "Content-Type: text/xml; charset=\"utf-8\"\r\n"
            "SOAPAction: \"urn:schemas-upnp-org:service:WANIPConnection:1#GetExternalIPAddress\"\r\n"
            "Content-Length: " + std::to_string(q.body.size()) + "\r\n"
            "Connection: close\r\n\r\n");
  EXPECT_EQ(http.substr(http.find("\r\n\r\n") + 4), q.body);
}

TEST(SoapCodec, AddAndDeletePortMappingBodies) {
  UpnpPortMapping m;
  m.external_port = 51820;
  m.protocol = MappingProtocol::udp;
  m.internal_port = 51820;
  m.internal_client = "192.168.1.10";
  m.description = "vpncheck <probe> & co";
  auto add = soap_add_port_mapping("urn:schemas-upnp-org:service:WANIPConnection:1", m);
  EXPECT_EQ(add.soap_action, "\"urn:schemas-upnp-org:service:WANIPConnection:1#AddPortMapping\"");
  EXPECT_NE(add.body.find("<u:AddPortMapping xmlns:u=\"urn:schemas-upnp-org:service:WANIPConnection:1\">"
                          "<NewRemoteHost></NewRemoteHost><NewExternalPort>51820</NewExternalPort>"
                          "<NewProtocol>UDP</NewProtocol><NewInternalPort>51820</NewInternalPort>"
                          "<NewInternalClient>192.168.1.10</NewInternalClient><NewEnabled>1</NewEnabled>"
                          "<NewPortMappingDescription>vpncheck &lt;probe&gt; &amp; co</NewPortMappingDescription>"
                          "<NewLeaseDuration>60</NewLeaseDuration></u:AddPortMapping>"),
            std::string::npos)
      << add.body;
  auto del = soap_delete_port_mapping("urn:schemas-upnp-org:service:WANIPConnection:1", 51820, MappingProtocol::tcp);
  EXPECT_EQ(del.soap_action, "\"urn:schemas-upnp-org:service:WANIPConnection:1#DeletePortMapping\"");
  EXPECT_NE(del.body.find("<u:DeletePortMapping xmlns:u=\"urn:schemas-upnp-org:service:WANIPConnection:1\">"
                          "<NewRemoteHost></NewRemoteHost><NewExternalPort>51820</NewExternalPort>"
                          "<NewProtocol>TCP</NewProtocol></u:DeletePortMapping>"),
            std::string::npos)
      << del.body;
}

TEST(SoapCodec, ParsesGetExternalIpAddressAnswer) {
  auto r = parse_get_external_ip_address_response(kExternalIpAnswer);
  ASSERT_TRUE(r) << to_string(r.error());
  EXPECT_EQ(*r, (Ipv4{100, 72, 3, 4}));
  EXPECT_TRUE(is_cgnat_address(*r));
}

TEST(SoapCodec, RejectsBadExternalIpAnswers) {
  EXPECT_EQ(parse_get_external_ip_address_response(kFault).error(), ParseError::not_found);
  EXPECT_EQ(parse_get_external_ip_address_response("").error(), ParseError::not_found);
  std::string empty(kExternalIpAnswer);
  empty.replace(empty.find("100.72.3.4"), 10, "");
  EXPECT_EQ(parse_get_external_ip_address_response(empty).error(), ParseError::malformed);
  std::string v6(kExternalIpAnswer);
  v6.replace(v6.find("100.72.3.4"), 10, "2001:db8::1");
  EXPECT_EQ(parse_get_external_ip_address_response(v6).error(), ParseError::malformed);
  std::string cut(kExternalIpAnswer.substr(0, kExternalIpAnswer.find("</NewExternal")));
  EXPECT_FALSE(parse_get_external_ip_address_response(cut));
}

TEST(SoapCodec, StatusOfAddDeleteAnswers) {
  const std::string ok =
      "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body>"
      "<u:DeletePortMappingResponse xmlns:u=\"urn:schemas-upnp-org:service:WANIPConnection:1\">"
      "</u:DeletePortMappingResponse></s:Body></s:Envelope>";
  EXPECT_EQ(parse_soap_status(ok, "DeletePortMapping"), (SoapStatus{true, std::nullopt, ""}));
  EXPECT_FALSE(parse_soap_status(ok, "AddPortMapping").ok);
  EXPECT_EQ(parse_soap_status(kFault, "DeletePortMapping"), (SoapStatus{false, 714, "NoSuchEntryInArray"}));
  auto garbage = parse_soap_status("<<<>>>", "AddPortMapping");
  EXPECT_FALSE(garbage.ok);
  EXPECT_FALSE(garbage.error_description.empty());
}

}  // namespace
}  // namespace vpncheck::nat
