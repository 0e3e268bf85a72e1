/* A library of the host's own that defines SSL_write (as a bundled TLS
 * library, or a host's static OpenSSL, may): an object deep-bound to it
 * must keep calling it, never the shim's hook and libssl. */
int SSL_write(void *ssl, const void *buf, int num);
int SSL_write(void *ssl, const void *buf, int num)
{
	(void)ssl, (void)buf;
	return 4242 + num;
}
