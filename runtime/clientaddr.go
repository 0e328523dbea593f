package runtime

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// RemoteIP returns the address of the peer of r's connection as a client
// address for Options.MaxSessionsPerClient: its IP address, or for IPv6
// its /64 network, which one host commonly has whole. Behind a reverse
// proxy it is the proxy's address for every client.
func RemoteIP(r *http.Request) string {
	return clientIP(r.RemoteAddr)
}

// publicRemoteIP is the default Options.ClientAddress: RemoteIP, but ""
// (not counted) for a loopback, private or link-local peer, which is a
// reverse proxy or load balancer in front of the server (every client
// would share its address), or a test on the same machine.
func publicRemoteIP(r *http.Request) string {
	host := r.RemoteAddr
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip = ip.Unmap(); ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() {
			return ""
		}
	}
	return RemoteIP(r)
}

// ForwardedClientIP returns an Options.ClientAddress for a server behind
// a reverse proxy that appends the client's address to the request header
// named header (X-Forwarded-For, or X-Real-IP): the last address in it,
// which the proxy wrote, or RemoteIP when there is none. Only a header
// that the proxy always sets may be trusted; a client sending it straight
// to the server would choose its own address.
func ForwardedClientIP(header string) func(*http.Request) string {
	return func(r *http.Request) string {
		values := r.Header.Values(header)
		if len(values) == 0 {
			return RemoteIP(r)
		}
		last := values[len(values)-1]
		if i := strings.LastIndexByte(last, ','); i >= 0 {
			last = last[i+1:]
		}
		if last = strings.TrimSpace(last); last == "" {
			return RemoteIP(r)
		}
		return clientIP(last)
	}
}

// clientIP returns the IP address of addr (host:port, or a bare address),
// as a /64 network for IPv6; anything else as it is.
func clientIP(addr string) string {
	host := addr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap()
	if ip.Is4() {
		return ip.String()
	}
	p, _ := ip.WithZone("").Prefix(64)
	return p.String()
}
