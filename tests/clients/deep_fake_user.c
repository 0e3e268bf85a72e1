/* A deep-bound plugin whose SSL_write is another library's (deep_fake_ssl),
 * while it also loads libssl: prints what that SSL_write returned (4243). */
#include <openssl/ssl.h>
#include <stdio.h>

int spz_peek_main(int argc, char **argv);
int spz_peek_main(int argc, char **argv)
{
	(void)argc, (void)argv;
	OPENSSL_init_ssl(0, NULL); /* libssl is loaded, and its SSL_write known */
	printf("%d\n", SSL_write(NULL, "x", 1));
	return 0;
}
